import { readDataSet, type Table } from './data.js';
import { InvalidSpecError } from './errors.js';
import { Ewma } from './ewma.js';
import { gradientCheck } from './gradient-check.js';
import { getKernels } from './kernels/index.js';
import type { Kernels } from './kernels/types.js';
import { countCorrect } from './losses.js';
import { toModel } from './model.js';
import { createOptimizer, OptimizerBase } from './optimizers/index.js';
import { batchAt, shuffleRows, stepsPerEpoch as stepsOf } from './mini-batch.js';
import { prepare } from './prepare.js';
import { learningRateAt } from './schedules.js';
import { resolveSpec, type ResolvedSpec } from './spec.js';
import { DivergenceError, TrainingAbortedError } from './training-errors.js';
import { allFinite, CORRECT, GRAD_NORM_SUM, LAST_GRAD_NORM, LOSS_SUM, SAMPLES, STEP_BAD_GRADIENT, STEP_BAD_LOSS, STEP_CLIPPED, TrainStep } from './train-step.js';
import type {
  Buf,
  Checkpoint,
  DataSet,
  EpochMetrics,
  NormalizationStats,
  Progress,
  TrainOptions,
  TrainResult,
  TrainingSpec,
} from './types.js';

/** β of the smoothed (EWMA) training loss. */
const SMOOTHING_BETA = 0.9;
/** Step-progress interval when `onProgress` is set but neither `progressEverySteps` nor `progressEveryMs`. */
const DEFAULT_PROGRESS_MS = 1000;
/**
 * The loss-explosion limit is `maxLossGrowth × max(L0, LOSS_FLOOR)`: the floor keeps a tiny
 * start loss (a good init, small-scale mse targets) from turning a rise to 0.1 into a divergence.
 */
const LOSS_FLOOR = 1;

/** The opaque `Checkpoint.state` of this core (plain data and typed arrays: structured-clone-able). */
export interface CoreCheckpointState {
  dtype: 'float32' | 'float64';
  /** Layer widths, input first: guards against resuming with another architecture. */
  sizes: number[];
  /** Copies of [W0, b0, W1, b1, …]. */
  weights: Buf[];
  optimizer: unknown;
  /** RNG state before the shuffle of epoch `Checkpoint.epoch` (the permutation is redrawn from it). */
  rng: unknown;
  ewma: unknown;
  clipped: number;
  early?: { best: number; wait: number; bestEpoch: number; bestWeights?: Buf[] };
  /** Training stopped (early stopping): resuming only finalizes. */
  stopped: boolean;
  normalization?: NormalizationStats;
  /** Original row indices of the validation split. */
  valIndices: Uint32Array;
  /**
   * Mean training loss at init (L0 of the loss-explosion limit), so a resumed run decides as an
   * uninterrupted one; absent in checkpoints of older cores (the limit is then off after step 0).
   */
  initialLoss?: number;
  /** Sums of the part of epoch `Checkpoint.epoch` already done (`Checkpoint.step` steps). */
  partial: { lossSum: number; samples: number; correct: number; gradNormSum: number; durationMs: number };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

function copies(tensors: Buf[]): Buf[] {
  return tensors.map((t) => t.slice());
}

function sameNumbers(a: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * Trains a fully-connected network on `data` as `spec` says and resolves with the model, the
 * per-epoch history and diagnostics.
 *
 * The loop is tight and allocation-free: every buffer is allocated once before it through the
 * kernel backend, and every matrix product goes through the kernels. It yields to the event loop
 * at least every `yieldEveryMs` (default 50 ms) so timers, sockets and `signal` keep working.
 *
 * @throws InvalidSpecError for a spec that does not fit the data (with the field path).
 * @throws DivergenceError when the loss, the gradient or the weights become non-finite, or an
 *   epoch's mean training loss exceeds `maxLossGrowth` × max(loss at init, 1).
 * @throws TrainingAbortedError when `options.signal` aborts (carries a checkpoint to resume from).
 */
export async function train(spec: TrainingSpec, data: DataSet, options: TrainOptions = {}): Promise<TrainResult> {
  const startedAt = performance.now();
  const table = readDataSet(data);
  const rs = resolveSpec(spec, table);
  const kernels = options.kernelFactory?.(rs.dtype) ?? getKernels(rs.dtype, options.kernels, { threads: options.threads });
  try {
    return await run(spec, data, options, table, rs, kernels, startedAt);
  } finally {
    kernels.dispose?.();
  }
}

async function run(
  spec: TrainingSpec,
  data: DataSet,
  options: TrainOptions,
  table: Table,
  rs: ResolvedSpec,
  kernels: Kernels<Buf>,
  startedAt: number,
): Promise<TrainResult> {
  const optimizer = createOptimizer(spec.optimizer);
  // slots in the backend's memory and its fused updates, when it has them
  if (optimizer instanceof OptimizerBase) optimizer.useKernels(kernels);
  const baseLr = optimizer.learningRate;
  const gradientCheckResult = rs.gradientCheck ? gradientCheck(spec, data, rs.gradientCheck) : undefined;

  const nVal0 = rs.validationSplit > 0 ? 1 : 0;
  const maxBatch = Math.max(1, Math.min(rs.batchSize, table.rows - nVal0));
  const prep = prepare(rs, table, kernels, maxBatch, options.consumeData === true);
  const { net, rng, X, T, nTrain, nVal } = prep;
  const F = table.featureCount, TW = table.targetWidth;
  const B = rs.batchSize;
  const stepsPerEpoch = stepsOf(nTrain, B);
  // The shuffled row order; where the backend can read it, so it can gather batches itself.
  const perm = kernels.allocIndex ? kernels.allocIndex(nTrain) : new Uint32Array(nTrain);
  const ewma = new Ewma(SMOOTHING_BETA);
  const stepper = new TrainStep(net, kernels, X, T, perm, rs.loss, rs.task, rs.clip, optimizer, ewma);
  const early = rs.earlyStopping;
  const bestWeights = early?.restoreBest ? net.params.map((p) => kernels.alloc(p.length)) : undefined;
  const normalization: NormalizationStats | undefined =
    prep.featureStats || prep.targetStats
      ? {
          featureMean: (prep.featureStats ?? { mean: new Array<number>(F).fill(0) }).mean,
          featureStd: (prep.featureStats ?? { std: new Array<number>(F).fill(1) }).std,
          ...(prep.targetStats ? { targetMean: prep.targetStats.mean, targetStd: prep.targetStats.std } : {}),
        }
      : undefined;
  const accuracyDenominator = rs.task === 'binary' ? TW : rs.task === 'classification' ? 1 : 0;

  const {
    onProgress,
    onCheckpoint,
    signal,
    checkpointEveryMs,
    yieldEveryMs = 50,
  } = options;
  let { progressEverySteps, progressEveryMs } = options;
  if (onProgress && progressEverySteps === undefined && progressEveryMs === undefined) progressEveryMs = DEFAULT_PROGRESS_MS;

  // Run state (everything a checkpoint carries).
  let history: EpochMetrics[] = [];
  let epoch = 0;
  let startStep = 0;
  let globalStep = 0;
  let clipped = 0;
  let best = Infinity, wait = 0, bestEpoch = -1;
  let stopped = false;
  let partial = { lossSum: 0, samples: 0, correct: 0, gradNormSum: 0, durationMs: 0 };
  let rngEpochStart: unknown = rng.state();
  let initialLoss: number | undefined;

  const resume = options.resumeFrom;
  if (resume) {
    const s = resume.state as CoreCheckpointState;
    if (resume.version !== 1 || s === null || typeof s !== 'object' || !Array.isArray(s.weights)) {
      throw new InvalidSpecError('resumeFrom', 'not a checkpoint of this core (version 1)');
    }
    if (s.dtype !== rs.dtype || !sameNumbers(s.sizes, net.sizes) || s.weights.length !== net.params.length) {
      throw new InvalidSpecError('resumeFrom', 'the checkpoint was taken with another architecture or dtype');
    }
    const norm = s.normalization;
    if (!sameNumbers(s.valIndices, prep.valIndices) || !sameNumbers(norm?.featureMean, normalization?.featureMean) || !sameNumbers(norm?.targetMean, normalization?.targetMean)) {
      throw new InvalidSpecError('resumeFrom', 'the checkpoint was taken on other data, split or normalization');
    }
    net.loadParams(s.weights);
    optimizer.load(s.optimizer);
    rngEpochStart = s.rng;
    ewma.load(s.ewma);
    clipped = s.clipped;
    if (s.early) {
      ({ best, wait, bestEpoch } = s.early);
      if (bestWeights && s.early.bestWeights) bestWeights.forEach((b, i) => b.set(s.early!.bestWeights![i]));
    }
    stopped = s.stopped;
    initialLoss = s.initialLoss;
    partial = { ...s.partial };
    history = resume.history.slice();
    epoch = resume.epoch;
    startStep = resume.step;
    globalStep = resume.globalStep;
  }

  const checkpoint = (atEpoch: number, atStep: number, rngState: unknown): Checkpoint => {
    const state: CoreCheckpointState = {
      dtype: rs.dtype,
      sizes: net.sizes.slice(),
      weights: copies(net.params),
      optimizer: optimizer.state(),
      rng: rngState,
      ewma: ewma.state(),
      clipped,
      early: early ? { best, wait, bestEpoch, bestWeights: bestWeights ? copies(bestWeights) : undefined } : undefined,
      stopped,
      normalization,
      valIndices: prep.valIndices.slice(),
      ...(initialLoss !== undefined ? { initialLoss } : {}),
      partial: { ...partial },
    };
    return { version: 1, epoch: atEpoch, step: atStep, globalStep, state, history: history.map((h) => ({ ...h })) };
  };

  // L0 over every training row with the initial weights (no RNG, no update): one batch is no sample.
  if (initialLoss === undefined && globalStep === 0 && epoch < rs.epochs && !stopped) {
    let sum = 0;
    for (let from = 0; from < nTrain; from += maxBatch) {
      const m = Math.min(maxBatch, nTrain - from);
      const nx = net.X, nt = net.T;
      const xo = from * F, to = from * TW;
      for (let i = 0; i < m * F; i++) nx[i] = X[xo + i];
      for (let i = 0; i < m * TW; i++) nt[i] = T[to + i];
      net.forward(m);
      sum += net.loss(rs.loss, m, false);
    }
    initialLoss = sum / nTrain;
  }
  const lossLimit = initialLoss !== undefined ? rs.maxLossGrowth * Math.max(initialLoss, LOSS_FLOOR) : Infinity;

  let lastYield = performance.now();
  let lastProgress = lastYield;
  let lastCheckpoint = lastYield;
  let stepsSinceProgress = 0;
  let trainedSamples = 0;
  let trainingMs = 0;

  for (; epoch < rs.epochs && !stopped; epoch++) {
    const epochStart = performance.now();
    rng.load(rngEpochStart);
    shuffleRows(rng, perm);
    const lr = rs.schedule ? learningRateAt(rs.schedule, baseLr, epoch) : baseLr;
    const sums = stepper.sums;
    sums[LOSS_SUM] = partial.lossSum;
    sums[SAMPLES] = partial.samples;
    sums[CORRECT] = partial.correct;
    sums[GRAD_NORM_SUM] = partial.gradNormSum;
    const priorMs = partial.durationMs;
    const savePartial = (now: number) => {
      partial = { lossSum: sums[LOSS_SUM], samples: sums[SAMPLES], correct: sums[CORRECT], gradNormSum: sums[GRAD_NORM_SUM], durationMs: priorMs + now - epochStart };
    };

    for (let s = startStep; s < stepsPerEpoch; s++) {
      if (signal?.aborted) {
        savePartial(performance.now());
        throw new TrainingAbortedError(checkpoint(epoch, s, rngEpochStart));
      }
      const batch = batchAt(s, B, nTrain);
      const status = stepper.run(batch.from, batch.size, lr);
      if (status < 0) throw new DivergenceError(epoch, s + 1, status === STEP_BAD_LOSS ? 'loss' : status === STEP_BAD_GRADIENT ? 'gradient' : 'weights', undefined, rs.clip);
      if (status === STEP_CLIPPED) clipped++;
      globalStep++;
      stepsSinceProgress++;

      if (s + 1 < stepsPerEpoch) {
        const now = performance.now();
        if (
          onProgress &&
          (progressEverySteps === undefined || stepsSinceProgress >= progressEverySteps) &&
          (progressEveryMs === undefined || now - lastProgress >= progressEveryMs)
        ) {
          const samples = sums[SAMPLES];
          const accuracy = accuracyDenominator ? sums[CORRECT] / (samples * accuracyDenominator) : undefined;
          await onProgress(progressOf('step', epoch, s + 1, sums[LOSS_SUM] / samples, accuracy, samples, priorMs + now - epochStart, lr));
          lastProgress = performance.now();
          stepsSinceProgress = 0;
        }
        if (onCheckpoint && checkpointEveryMs !== undefined && now - lastCheckpoint >= checkpointEveryMs) {
          savePartial(now);
          await onCheckpoint(checkpoint(epoch, s + 1, rngEpochStart));
          lastCheckpoint = performance.now();
        }
        if (now - lastYield >= yieldEveryMs) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
    }
    const lossSum = sums[LOSS_SUM], samples = sums[SAMPLES], correct = sums[CORRECT], gradNormSum = sums[GRAD_NORM_SUM];
    startStep = 0;
    const loss = lossSum / samples;
    if (loss > lossLimit) {
      throw new DivergenceError(epoch, stepsPerEpoch, 'loss', {
        initialLoss: initialLoss!,
        loss,
        factor: rs.maxLossGrowth,
        learningRate: lr,
        optimizer: spec.optimizer.type,
      }, rs.clip);
    }

    // Validation over the held-out rows, in chunks of the batch buffers.
    let valLoss: number | undefined, valAccuracy: number | undefined;
    if (nVal > 0) {
      let vLoss = 0, vCorrect = 0;
      for (let from = 0; from < nVal; from += maxBatch) {
        const m = Math.min(maxBatch, nVal - from);
        const nx = net.X, nt = net.T;
        const xo = (nTrain + from) * F, to = (nTrain + from) * TW;
        for (let i = 0; i < m * F; i++) nx[i] = X[xo + i];
        for (let i = 0; i < m * TW; i++) nt[i] = T[to + i];
        net.forward(m);
        vLoss += net.loss(rs.loss, m, false);
        if (accuracyDenominator) vCorrect += countCorrect(rs.task, net.output, nt, m, net.outputSize);
      }
      valLoss = vLoss / nVal;
      if (!Number.isFinite(valLoss)) throw new DivergenceError(epoch, stepsPerEpoch, 'loss', undefined, rs.clip);
      if (accuracyDenominator) valAccuracy = vCorrect / (nVal * accuracyDenominator);
    }

    const durationMs = priorMs + performance.now() - epochStart;
    trainedSamples += samples;
    trainingMs += durationMs;
    const metrics: EpochMetrics = {
      epoch,
      loss,
      smoothedLoss: ewma.corrected,
      lr,
      gradNorm: gradNormSum / stepsPerEpoch,
      clipped,
      durationMs,
      samplesPerSecond: durationMs > 0 ? (samples / durationMs) * 1000 : 0,
    };
    if (accuracyDenominator) metrics.accuracy = correct / (samples * accuracyDenominator);
    if (valLoss !== undefined) metrics.valLoss = valLoss;
    if (valAccuracy !== undefined) metrics.valAccuracy = valAccuracy;
    history.push(metrics);
    partial = { lossSum: 0, samples: 0, correct: 0, gradNormSum: 0, durationMs: 0 };

    if (early) {
      const monitored = valLoss ?? loss;
      if (monitored < best - early.minDelta) {
        best = monitored;
        wait = 0;
        bestEpoch = epoch;
        if (bestWeights) net.copyParamsTo(bestWeights);
      } else if (++wait >= early.patience) {
        stopped = true;
        if (bestWeights && bestEpoch >= 0) net.loadParams(bestWeights);
      }
    }
    rngEpochStart = rng.state();

    if (onProgress) {
      const p = progressOf('epoch', epoch, stepsPerEpoch, loss, metrics.accuracy, samples, durationMs, lr);
      if (valLoss !== undefined) p.valLoss = valLoss;
      if (valAccuracy !== undefined) p.valAccuracy = valAccuracy;
      await onProgress(p);
      lastProgress = performance.now();
      stepsSinceProgress = 0;
    }
    if (onCheckpoint) {
      await onCheckpoint(checkpoint(epoch + 1, 0, rngEpochStart));
      lastCheckpoint = performance.now();
    }
    if (performance.now() - lastYield >= yieldEveryMs) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }

  function progressOf(
    kind: Progress['kind'],
    e: number,
    step: number,
    loss: number,
    accuracy: number | undefined,
    samples: number,
    elapsedMs: number,
    lr: number,
  ): Progress {
    const p: Progress = {
      kind,
      epoch: e,
      epochs: rs.epochs,
      step,
      stepsPerEpoch,
      globalStep,
      samplesSeen: globalSamples(e, samples),
      loss,
      smoothedLoss: ewma.corrected,
      lr,
      gradNorm: stepper.sums[LAST_GRAD_NORM],
      layerGradNorms: Array.from(stepper.layerNorms),
      clipped,
      samplesPerSecond: elapsedMs > 0 ? (samples / elapsedMs) * 1000 : 0,
    };
    if (accuracy !== undefined) p.accuracy = accuracy;
    return p;
  }

  function globalSamples(e: number, samplesThisEpoch: number): number {
    return e * nTrain + samplesThisEpoch;
  }

  if (!allFinite(kernels, net.params)) throw new DivergenceError(Math.max(0, epoch - 1), stepsPerEpoch, 'weights', undefined, rs.clip);
  const model = toModel(net, rs.loss, rs.dtype, normalization, rs.classes, data.featureNames);
  const restored = stopped && bestWeights !== undefined && bestEpoch >= 0;
  const final = restored ? history[bestEpoch] : history[history.length - 1];
  const durationMs = performance.now() - startedAt;
  const result: TrainResult = {
    model,
    history,
    loss: final?.loss ?? NaN,
    epochsRun: history.length,
    stoppedEarly: stopped,
    weightsHash: model.weightsHash,
    durationMs,
    samplesPerSecond: trainingMs > 0 ? (trainedSamples / trainingMs) * 1000 : 0,
    clipped,
    kernels: kernels.name,
  };
  if (final?.valLoss !== undefined) result.valLoss = final.valLoss;
  if (final?.accuracy !== undefined) result.accuracy = final.accuracy;
  if (final?.valAccuracy !== undefined) result.valAccuracy = final.valAccuracy;
  if (gradientCheckResult) result.gradientCheck = gradientCheckResult;
  return result;
}
