import { readDataSet, type Table } from './data.js';
import { EarlyStopping, type EarlyStoppingState } from './early-stopping.js';
import { epochMetricsOfAnyCore } from './epoch-metrics.js';
import { InvalidSpecError } from './errors.js';
import { Ewma } from './ewma.js';
import { gradientCheck } from './gradient-check.js';
import { getKernels } from './kernels/index.js';
import type { Kernels } from './kernels/types.js';
import { countCorrect } from './losses.js';
import type { Network } from './network.js';
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
  GradientCheckResult,
  NormalizationStats,
  Optimizer,
  Progress,
  Rng,
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
  /** Steps so far in which clipping changed the gradient. */
  clippedSteps: number;
  /** The same count under the name of cores before `clippedSteps` (read on resume, no longer written). */
  clipped?: number;
  early?: EarlyStoppingState;
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

/**
 * The run, step by step as in the notes: set up (optimizer, gradient check, seeded network,
 * split, normalized data), resume or start fresh, L0, then per epoch: one pass of mini-batch
 * steps, the loss-growth check, validation, the epoch's metrics, early stopping, the epoch-end
 * progress event and checkpoint; finally the result.
 */
async function run(
  spec: TrainingSpec,
  data: DataSet,
  options: TrainOptions,
  table: Table,
  rs: ResolvedSpec,
  kernels: Kernels<Buf>,
  startedAt: number,
): Promise<TrainResult> {
  const s = setUp(spec, data, options, table, rs, kernels);
  const state = options.resumeFrom ? resumeState(options.resumeFrom, s) : freshState(s);
  if (state.initialLoss === undefined && state.globalStep === 0 && state.epoch < rs.epochs && !state.stopped) {
    state.initialLoss = initialLoss(s);
  }
  const lossLimit = state.initialLoss !== undefined ? rs.maxLossGrowth * Math.max(state.initialLoss, LOSS_FLOOR) : Infinity;
  const pacing = new Pacing(options);
  const throughput = { samples: 0, ms: 0 };

  for (; state.epoch < rs.epochs && !state.stopped; state.epoch++) {
    const trained = await trainOneEpoch(s, state, pacing);
    checkLossGrowth(s, state, trained, lossLimit);
    const val = validate(s, state.epoch);
    const durationMs = trained.priorMs + performance.now() - trained.startedAt;
    throughput.samples += trained.samples;
    throughput.ms += durationMs;
    const metrics = epochMetrics(s, state, trained, val, durationMs);
    state.history.push(metrics);
    state.partial = noPartial();
    if (s.early?.afterEpoch(val.valLoss ?? trained.loss, state.epoch, s.net)) state.stopped = true;
    state.rngEpochStart = s.rng.state();
    await endOfEpoch(s, state, pacing, trained, metrics);
  }
  return buildResult(s, state, startedAt, throughput);
}

/** What a run holds fixed: the spec, the seeded network, the data in the run's dtype, the step. */
interface Setup {
  spec: TrainingSpec;
  rs: ResolvedSpec;
  kernels: Kernels<Buf>;
  featureNames: DataSet['featureNames'];
  net: Network;
  rng: Rng;
  /** All rows, normalized: training rows first (`nTrain`), then the validation rows (`nVal`). */
  X: Buf;
  T: Buf;
  featureCount: number;
  targetWidth: number;
  nTrain: number;
  nVal: number;
  valIndices: Uint32Array;
  /** Rows of the network's batch buffers: the chunk of the passes without update (L0, validation). */
  maxBatch: number;
  stepsPerEpoch: number;
  /** The shuffled row order; where the backend can read it, so it can gather batches itself. */
  perm: Uint32Array;
  optimizer: Optimizer;
  baseLr: number;
  ewma: Ewma;
  stepper: TrainStep;
  early?: EarlyStopping;
  normalization?: NormalizationStats;
  /** Per-row denominator of accuracy: target columns (binary), 1 (classification), 0 (regression: none). */
  accuracyDenominator: number;
  gradientCheck?: GradientCheckResult;
}

/** Sums of the part of an epoch already done (kept in a checkpoint). */
type PartialEpoch = CoreCheckpointState['partial'];

/** Where a run is: everything a checkpoint carries besides the network, optimizer, EWMA and early-stopping state. */
interface RunState {
  history: EpochMetrics[];
  /** The epoch running (the next one to run between epochs). */
  epoch: number;
  /** Steps of `epoch` already done when it starts (a mid-epoch resume), else 0. */
  startStep: number;
  globalStep: number;
  /** Steps so far in which clipping changed the gradient. */
  clippedSteps: number;
  /** Early stopping ended the run. */
  stopped: boolean;
  partial: PartialEpoch;
  /** RNG state before the shuffle of `epoch`. */
  rngEpochStart: unknown;
  /** L0, the mean training loss at init. */
  initialLoss?: number;
}

/** One epoch's pass of steps, as `trainOneEpoch` leaves it. */
interface EpochSums {
  lr: number;
  /** Mean training loss of the epoch (sample-weighted over its batches). */
  loss: number;
  samples: number;
  correct: number;
  gradNormSum: number;
  /** `performance.now()` when this call's part of the epoch started, and the ms of a part done before a resume. */
  startedAt: number;
  priorMs: number;
}

function setUp(spec: TrainingSpec, data: DataSet, options: TrainOptions, table: Table, rs: ResolvedSpec, kernels: Kernels<Buf>): Setup {
  const optimizer = createOptimizer(spec.optimizer);
  // slots in the backend's memory and its fused updates, when it has them
  if (optimizer instanceof OptimizerBase) optimizer.useKernels(kernels);
  const gradientCheckResult = rs.gradientCheck ? gradientCheck(spec, data, rs.gradientCheck) : undefined;

  const nVal0 = rs.validationSplit > 0 ? 1 : 0;
  const maxBatch = Math.max(1, Math.min(rs.batchSize, table.rows - nVal0));
  const prep = prepare(rs, table, kernels, maxBatch, options.consumeData === true);
  const { net, rng, X, T, nTrain, nVal } = prep;
  const F = table.featureCount, TW = table.targetWidth;
  const perm = kernels.allocIndex ? kernels.allocIndex(nTrain) : new Uint32Array(nTrain);
  const ewma = new Ewma(SMOOTHING_BETA);
  const stepper = new TrainStep(net, kernels, X, T, perm, rs.loss, rs.task, rs.clip, optimizer, ewma);
  const early = rs.earlyStopping ? new EarlyStopping(rs.earlyStopping, net, kernels) : undefined;
  const normalization: NormalizationStats | undefined =
    prep.featureStats || prep.targetStats
      ? {
          featureMean: (prep.featureStats ?? { mean: new Array<number>(F).fill(0) }).mean,
          featureStd: (prep.featureStats ?? { std: new Array<number>(F).fill(1) }).std,
          ...(prep.targetStats ? { targetMean: prep.targetStats.mean, targetStd: prep.targetStats.std } : {}),
        }
      : undefined;
  return {
    spec,
    rs,
    kernels,
    featureNames: data.featureNames,
    net,
    rng,
    X,
    T,
    featureCount: F,
    targetWidth: TW,
    nTrain,
    nVal,
    valIndices: prep.valIndices,
    maxBatch,
    stepsPerEpoch: stepsOf(nTrain, rs.batchSize),
    perm,
    optimizer,
    baseLr: optimizer.learningRate,
    ewma,
    stepper,
    early,
    normalization,
    accuracyDenominator: rs.task === 'binary' ? TW : rs.task === 'classification' ? 1 : 0,
    gradientCheck: gradientCheckResult,
  };
}

function freshState(s: Setup): RunState {
  return { history: [], epoch: 0, startStep: 0, globalStep: 0, clippedSteps: 0, stopped: false, partial: noPartial(), rngEpochStart: s.rng.state() };
}

function noPartial(): PartialEpoch {
  return { lossSum: 0, samples: 0, correct: 0, gradNormSum: 0, durationMs: 0 };
}

/**
 * Resume: checks that checkpoint `c` was taken by this core with this architecture, dtype, data,
 * split and normalization, loads its weights and optimizer, EWMA and early-stopping state, and
 * returns its position.
 */
function resumeState(c: Checkpoint, s: Setup): RunState {
  const st = c.state as CoreCheckpointState;
  if (c.version !== 1 || st === null || typeof st !== 'object' || !Array.isArray(st.weights)) {
    throw new InvalidSpecError('resumeFrom', 'not a checkpoint of this core (version 1)');
  }
  if (st.dtype !== s.rs.dtype || !sameNumbers(st.sizes, s.net.sizes) || st.weights.length !== s.net.params.length) {
    throw new InvalidSpecError('resumeFrom', 'the checkpoint was taken with another architecture or dtype');
  }
  const norm = st.normalization;
  if (!sameNumbers(st.valIndices, s.valIndices) || !sameNumbers(norm?.featureMean, s.normalization?.featureMean) || !sameNumbers(norm?.targetMean, s.normalization?.targetMean)) {
    throw new InvalidSpecError('resumeFrom', 'the checkpoint was taken on other data, split or normalization');
  }
  s.net.loadParams(st.weights);
  s.optimizer.load(st.optimizer);
  s.ewma.load(st.ewma);
  if (st.early && s.early) s.early.load(st.early);
  return {
    history: c.history.map(epochMetricsOfAnyCore),
    epoch: c.epoch,
    startStep: c.step,
    globalStep: c.globalStep,
    clippedSteps: st.clippedSteps ?? st.clipped ?? 0,
    stopped: st.stopped,
    partial: { ...st.partial },
    rngEpochStart: st.rng,
    initialLoss: st.initialLoss,
  };
}

/** The checkpoint of position (`atEpoch`, `atStep`): a copy of everything needed to go on from there. */
function checkpointOf(s: Setup, state: RunState, atEpoch: number, atStep: number): Checkpoint {
  const cs: CoreCheckpointState = {
    dtype: s.rs.dtype,
    sizes: s.net.sizes.slice(),
    weights: s.net.params.map((t) => t.slice()),
    optimizer: s.optimizer.state(),
    rng: state.rngEpochStart,
    ewma: s.ewma.state(),
    clippedSteps: state.clippedSteps,
    early: s.early?.state(),
    stopped: state.stopped,
    normalization: s.normalization,
    valIndices: s.valIndices.slice(),
    ...(state.initialLoss !== undefined ? { initialLoss: state.initialLoss } : {}),
    partial: { ...state.partial },
  };
  return { version: 1, epoch: atEpoch, step: atStep, globalStep: state.globalStep, state: cs, history: state.history.map((h) => ({ ...h })) };
}

/**
 * A forward pass without update or random draw over rows `first` … `first + count − 1` of the
 * prepared data, in chunks of the batch buffers: the summed row losses and, with
 * `countAccuracy`, the rows (or outputs) answered right.
 */
function lossOver(s: Setup, first: number, count: number, countAccuracy: boolean): { lossSum: number; correct: number } {
  const { net, X, T, maxBatch, featureCount: F, targetWidth: TW, rs } = s;
  let lossSum = 0, correct = 0;
  for (let from = 0; from < count; from += maxBatch) {
    const m = Math.min(maxBatch, count - from);
    const nx = net.X, nt = net.T;
    const xo = (first + from) * F, to = (first + from) * TW;
    for (let i = 0; i < m * F; i++) nx[i] = X[xo + i];
    for (let i = 0; i < m * TW; i++) nt[i] = T[to + i];
    net.forward(m);
    lossSum += net.loss(rs.loss, m, false);
    if (countAccuracy) correct += countCorrect(rs.task, net.output, nt, m, net.outputSize);
  }
  return { lossSum, correct };
}

/** L0: the mean loss over every training row with the initial weights (one batch is no sample). */
function initialLoss(s: Setup): number {
  return lossOver(s, 0, s.nTrain, false).lossSum / s.nTrain;
}

/**
 * One epoch of mini-batch steps (from `state.startStep` on a mid-epoch resume): the epoch's
 * shuffle, its learning rate, then one optimizer step per batch, with step progress events,
 * timed checkpoints and yields between steps. Aborts between batches on `signal`.
 */
async function trainOneEpoch(s: Setup, state: RunState, pacing: Pacing): Promise<EpochSums> {
  const startedAt = performance.now();
  const { rs, rng, perm, stepper, stepsPerEpoch, nTrain } = s;
  const epoch = state.epoch;
  const B = rs.batchSize;
  rng.load(state.rngEpochStart);
  shuffleRows(rng, perm);
  const lr = rs.schedule ? learningRateAt(rs.schedule, s.baseLr, epoch) : s.baseLr;
  const sums = stepper.sums;
  sums[LOSS_SUM] = state.partial.lossSum;
  sums[SAMPLES] = state.partial.samples;
  sums[CORRECT] = state.partial.correct;
  sums[GRAD_NORM_SUM] = state.partial.gradNormSum;
  const priorMs = state.partial.durationMs;
  const savePartial = (now: number) => {
    state.partial = { lossSum: sums[LOSS_SUM], samples: sums[SAMPLES], correct: sums[CORRECT], gradNormSum: sums[GRAD_NORM_SUM], durationMs: priorMs + now - startedAt };
  };

  for (let step = state.startStep; step < stepsPerEpoch; step++) {
    if (pacing.signal?.aborted) {
      savePartial(performance.now());
      throw new TrainingAbortedError(checkpointOf(s, state, epoch, step));
    }
    const batch = batchAt(step, B, nTrain);
    const status = stepper.run(batch.from, batch.size, lr);
    if (status < 0) throw new DivergenceError(epoch, step + 1, status === STEP_BAD_LOSS ? 'loss' : status === STEP_BAD_GRADIENT ? 'gradient' : 'weights', undefined, rs.clip);
    if (status === STEP_CLIPPED) state.clippedSteps++;
    state.globalStep++;
    pacing.stepsSinceProgress++;

    if (step + 1 < stepsPerEpoch) {
      const now = performance.now();
      if (pacing.stepProgressDue(now)) {
        const samples = sums[SAMPLES];
        const accuracy = s.accuracyDenominator ? sums[CORRECT] / (samples * s.accuracyDenominator) : undefined;
        await pacing.onProgress!(progressEvent(s, state, 'step', step + 1, sums[LOSS_SUM] / samples, accuracy, samples, priorMs + now - startedAt, lr));
        pacing.progressSent();
      }
      if (pacing.stepCheckpointDue(now)) {
        savePartial(now);
        await pacing.onCheckpoint!(checkpointOf(s, state, epoch, step + 1));
        pacing.checkpointSent();
      }
      if (pacing.yieldDue(now)) await pacing.yield();
    }
  }
  state.startStep = 0;
  const samples = sums[SAMPLES];
  return { lr, loss: sums[LOSS_SUM] / samples, samples, correct: sums[CORRECT], gradNormSum: sums[GRAD_NORM_SUM], startedAt, priorMs };
}

/** The loss-explosion limit: an epoch's mean training loss over `maxLossGrowth × max(L0, 1)` is a divergence. */
function checkLossGrowth(s: Setup, state: RunState, e: EpochSums, lossLimit: number): void {
  if (e.loss > lossLimit) {
    throw new DivergenceError(state.epoch, s.stepsPerEpoch, 'loss', {
      initialLoss: state.initialLoss!,
      loss: e.loss,
      factor: s.rs.maxLossGrowth,
      learningRate: e.lr,
      optimizer: s.spec.optimizer.type,
    }, s.rs.clip);
  }
}

/** Validation: loss (and accuracy) over the held-out rows; nothing without a split. */
function validate(s: Setup, epoch: number): { valLoss?: number; valAccuracy?: number } {
  if (s.nVal === 0) return {};
  const { lossSum, correct } = lossOver(s, s.nTrain, s.nVal, s.accuracyDenominator !== 0);
  const valLoss = lossSum / s.nVal;
  if (!Number.isFinite(valLoss)) throw new DivergenceError(epoch, s.stepsPerEpoch, 'loss', undefined, s.rs.clip);
  return s.accuracyDenominator ? { valLoss, valAccuracy: correct / (s.nVal * s.accuracyDenominator) } : { valLoss };
}

/** The epoch's row of `history`. */
function epochMetrics(s: Setup, state: RunState, e: EpochSums, val: { valLoss?: number; valAccuracy?: number }, durationMs: number): EpochMetrics {
  const metrics: EpochMetrics = {
    epoch: state.epoch,
    loss: e.loss,
    smoothedLoss: s.ewma.corrected,
    lr: e.lr,
    gradNormMean: e.gradNormSum / s.stepsPerEpoch,
    clippedSteps: state.clippedSteps,
    durationMs,
    samplesPerSecond: durationMs > 0 ? (e.samples / durationMs) * 1000 : 0,
  };
  if (s.accuracyDenominator) metrics.accuracy = e.correct / (e.samples * s.accuracyDenominator);
  if (val.valLoss !== undefined) metrics.valLoss = val.valLoss;
  if (val.valAccuracy !== undefined) metrics.valAccuracy = val.valAccuracy;
  return metrics;
}

/** The epoch's progress event and checkpoint (the position is the next epoch's start), then a yield if due. */
async function endOfEpoch(s: Setup, state: RunState, pacing: Pacing, e: EpochSums, metrics: EpochMetrics): Promise<void> {
  if (pacing.onProgress) {
    const p = progressEvent(s, state, 'epoch', s.stepsPerEpoch, e.loss, metrics.accuracy, e.samples, metrics.durationMs, e.lr);
    if (metrics.valLoss !== undefined) p.valLoss = metrics.valLoss;
    if (metrics.valAccuracy !== undefined) p.valAccuracy = metrics.valAccuracy;
    await pacing.onProgress(p);
    pacing.progressSent();
  }
  if (pacing.onCheckpoint) {
    await pacing.onCheckpoint(checkpointOf(s, state, state.epoch + 1, 0));
    pacing.checkpointSent();
  }
  if (pacing.yieldDue(performance.now())) await pacing.yield();
}

function progressEvent(
  s: Setup,
  state: RunState,
  kind: Progress['kind'],
  step: number,
  loss: number,
  accuracy: number | undefined,
  samples: number,
  elapsedMs: number,
  lr: number,
): Progress {
  const p: Progress = {
    kind,
    epoch: state.epoch,
    epochs: s.rs.epochs,
    step,
    stepsPerEpoch: s.stepsPerEpoch,
    globalStep: state.globalStep,
    samplesSeen: state.epoch * s.nTrain + samples,
    loss,
    smoothedLoss: s.ewma.corrected,
    lr,
    gradNorm: s.stepper.sums[LAST_GRAD_NORM],
    layerGradNorms: Array.from(s.stepper.layerNorms),
    clippedSteps: state.clippedSteps,
    samplesPerSecond: elapsedMs > 0 ? (samples / elapsedMs) * 1000 : 0,
  };
  if (accuracy !== undefined) p.accuracy = accuracy;
  return p;
}

/**
 * The result: the model (the best epoch's weights when early stopping restored them, and that
 * epoch's figures), the history and diagnostics. Refuses non-finite weights.
 */
function buildResult(s: Setup, state: RunState, startedAt: number, throughput: { samples: number; ms: number }): TrainResult {
  const { net, rs, kernels } = s;
  const history = state.history;
  if (!allFinite(kernels, net.params)) throw new DivergenceError(Math.max(0, state.epoch - 1), s.stepsPerEpoch, 'weights', undefined, rs.clip);
  const model = toModel(net, rs.loss, rs.dtype, s.normalization, rs.classes, s.featureNames);
  const restored = state.stopped && s.early?.restoresBest === true;
  const final = restored ? history[s.early!.bestEpoch] : history[history.length - 1];
  const durationMs = performance.now() - startedAt;
  const result: TrainResult = {
    model,
    history,
    loss: final?.loss ?? NaN,
    epochsRun: history.length,
    stoppedEarly: state.stopped,
    weightsHash: model.weightsHash,
    durationMs,
    samplesPerSecond: throughput.ms > 0 ? (throughput.samples / throughput.ms) * 1000 : 0,
    clippedSteps: state.clippedSteps,
    kernels: kernels.name,
  };
  if (final?.valLoss !== undefined) result.valLoss = final.valLoss;
  if (final?.accuracy !== undefined) result.accuracy = final.accuracy;
  if (final?.valAccuracy !== undefined) result.valAccuracy = final.valAccuracy;
  if (s.gradientCheck) result.gradientCheck = s.gradientCheck;
  return result;
}

/**
 * When the callbacks run and the loop yields: step progress every `progressEverySteps` steps
 * and `progressEveryMs` ms (each only when set; 1000 ms when neither is), timed checkpoints
 * every `checkpointEveryMs`, a yield to the event loop every `yieldEveryMs`.
 */
class Pacing {
  readonly onProgress: TrainOptions['onProgress'];
  readonly onCheckpoint: TrainOptions['onCheckpoint'];
  readonly signal: AbortSignal | undefined;
  private readonly progressEverySteps: number | undefined;
  private readonly progressEveryMs: number | undefined;
  private readonly checkpointEveryMs: number | undefined;
  private readonly yieldEveryMs: number;
  private lastYield = performance.now();
  private lastProgress = this.lastYield;
  private lastCheckpoint = this.lastYield;
  stepsSinceProgress = 0;

  constructor(options: TrainOptions) {
    ({ onProgress: this.onProgress, onCheckpoint: this.onCheckpoint, signal: this.signal, checkpointEveryMs: this.checkpointEveryMs } = options);
    this.yieldEveryMs = options.yieldEveryMs === undefined ? 50 : options.yieldEveryMs;
    this.progressEverySteps = options.progressEverySteps;
    this.progressEveryMs = options.progressEveryMs;
    if (this.onProgress && this.progressEverySteps === undefined && this.progressEveryMs === undefined) this.progressEveryMs = DEFAULT_PROGRESS_MS;
  }

  stepProgressDue(now: number): boolean {
    return (
      !!this.onProgress &&
      (this.progressEverySteps === undefined || this.stepsSinceProgress >= this.progressEverySteps) &&
      (this.progressEveryMs === undefined || now - this.lastProgress >= this.progressEveryMs)
    );
  }

  progressSent(): void {
    this.lastProgress = performance.now();
    this.stepsSinceProgress = 0;
  }

  stepCheckpointDue(now: number): boolean {
    return !!this.onCheckpoint && this.checkpointEveryMs !== undefined && now - this.lastCheckpoint >= this.checkpointEveryMs;
  }

  checkpointSent(): void {
    this.lastCheckpoint = performance.now();
  }

  yieldDue(now: number): boolean {
    return now - this.lastYield >= this.yieldEveryMs;
  }

  async yield(): Promise<void> {
    await yieldToEventLoop();
    this.lastYield = performance.now();
  }
}
