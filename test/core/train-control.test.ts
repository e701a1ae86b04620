import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import {
  DivergenceError,
  TrainingAbortedError,
  modelFromCheckpoint,
  train,
  type Checkpoint,
  type EpochMetrics,
  type Progress,
  type TrainResult,
  type TrainingSpec,
} from '../../src/core/index.js';
import { fastKernelsAvailable } from '../../src/core/kernels/index.js';
import { gaussianRows, twoSpirals } from './helpers/datasets.js';

const regression = (() => {
  const features = gaussianRows(64, 3, 4);
  return { features, targets: features.map((f) => [f[0] * 2 - f[1] + 0.5 * f[2]]) };
})();

const spirals = twoSpirals(60, 5);
/** Every piece of state a checkpoint must carry: Adam moments and step count, a schedule, clipping, EWMA, split, early stopping. */
const FULL: TrainingSpec = {
  model: { layers: [{ units: 12, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 0.02 },
  schedule: { type: 'inverse_time', decayRate: 0.5 },
  clip: { type: 'global_norm', maxNorm: 0.5 },
  epochs: 6,
  batchSize: 7,
  validationSplit: 0.2,
  earlyStopping: { patience: 50, minDelta: 0 },
  seed: 21,
};

/** History without the wall-clock fields. */
function metricsOnly(h: EpochMetrics[]) {
  return h.map(({ durationMs: _d, samplesPerSecond: _s, ...rest }) => rest);
}

function roundTrip(c: Checkpoint): Checkpoint {
  return deserialize(serialize(structuredClone(c))) as Checkpoint;
}

describe('train: divergence', () => {
  const spec: TrainingSpec = {
    model: { layers: [{ units: 16, activation: 'tanh' }, { units: 1, activation: 'linear' }] },
    loss: 'mse',
    optimizer: { type: 'sgd', learningRate: 1 },
    epochs: 20,
    batchSize: 8,
    seed: 1,
  };

  it('a huge learning rate throws DivergenceError with epoch, step, what and a hint; no result, no checkpoint with NaN', async () => {
    const checkpoints: Checkpoint[] = [];
    const err = await train(spec, regression, { onCheckpoint: (c) => void checkpoints.push(c) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    const d = err as DivergenceError;
    expect(['loss', 'gradient', 'weights']).toContain(d.what);
    expect(d.epoch).toBeGreaterThanOrEqual(0);
    expect(d.step).toBeGreaterThanOrEqual(1);
    expect(d.hint).toMatch(/learning rate.*clip.*init/);
    for (const c of checkpoints) {
      for (const w of (c.state as { weights: Float32Array[] }).weights) expect(w.every(Number.isFinite)).toBe(true);
    }
  });

  it('the same run with global-norm clipping does not diverge and counts the clipped steps', async () => {
    const r = await train({ ...spec, clip: { type: 'global_norm', maxNorm: 1 } }, regression);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.model.layers.every((l) => l.weights.every(Number.isFinite) && l.bias.every(Number.isFinite))).toBe(true);
    expect(r.clippedSteps).toBeGreaterThan(0);
    expect(r.clippedSteps).toBeLessThanOrEqual(20 * 8);
    expect(r.history.at(-1)!.clippedSteps).toBe(r.clippedSteps);
  });
});

describe('train: progress and control', () => {
  it('reports every epoch and every N steps within an epoch with the diagnostics', async () => {
    const events: Progress[] = [];
    const r = await train({ ...FULL, epochs: 2 }, spirals, { onProgress: (p) => void events.push(p), progressEverySteps: 3 });
    const stepsPerEpoch = Math.ceil(96 / 7);
    const epochEvents = events.filter((e) => e.kind === 'epoch');
    expect(epochEvents.map((e) => e.epoch)).toEqual([0, 1]);
    const stepEvents = events.filter((e) => e.kind === 'step' && e.epoch === 0);
    expect(stepEvents.map((e) => e.step)).toEqual([3, 6, 9, 12]);
    for (const e of events) {
      expect(e.layerGradNorms).toHaveLength(2);
      const g = Math.hypot(...e.layerGradNorms);
      expect(e.gradNorm).toBeCloseTo(g, 10);
      expect(e.stepsPerEpoch).toBe(stepsPerEpoch);
      expect(e.epochs).toBe(2);
      expect(e.lr).toBeCloseTo(0.02 / (1 + 0.5 * e.epoch), 15);
      expect(Number.isFinite(e.smoothedLoss)).toBe(true);
      expect(e.accuracy).toBeGreaterThanOrEqual(0);
    }
    expect(epochEvents[1].globalStep).toBe(2 * stepsPerEpoch);
    expect(epochEvents[1].samplesSeen).toBe(2 * 96);
    expect(epochEvents[1].valLoss).toBe(r.history[1].valLoss);
    expect(epochEvents[1].valAccuracy).toBe(r.history[1].valAccuracy);
    expect(epochEvents[0].loss).toBe(r.history[0].loss);
  });

  it('smoothedLoss is the bias-corrected EWMA (β 0.9) of the batch losses', async () => {
    // progressEverySteps 1: the sample-weighted running mean of an epoch lets us recover each batch loss.
    const events: Progress[] = [];
    await train({ ...FULL, epochs: 1, validationSplit: 0 }, spirals, { onProgress: (p) => void events.push(p), progressEverySteps: 1 });
    const steps = events.filter((e) => e.kind === 'step');
    let prevSum = 0, prevN = 0, v = 0;
    steps.forEach((e, t) => {
      const n = e.step * 7;
      const batch = (e.loss * n - prevSum) / (n - prevN);
      prevSum = e.loss * n;
      prevN = n;
      v = 0.9 * v + 0.1 * batch;
      expect(e.smoothedLoss).toBeCloseTo(v / (1 - 0.9 ** (t + 1)), 9);
    });
  });

  it('awaits an async onProgress before the next step', async () => {
    let pending = false;
    let overlapped = false;
    await train({ ...FULL, epochs: 1 }, spirals, {
      progressEverySteps: 2,
      onProgress: async () => {
        if (pending) overlapped = true;
        pending = true;
        await new Promise((r) => setTimeout(r, 2)); // the point: a slow callback (must not overlap the next)
        pending = false;
      },
    });
    expect(overlapped).toBe(false);
  });

  it('yields to the event loop: a timer aborts a long run through the AbortSignal', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const err = await train({ ...FULL, epochs: 100000, earlyStopping: undefined }, spirals, { signal: AbortSignal.timeout(100), yieldEveryMs: 10 }).catch((e: unknown) => e);
    clearInterval(timer);
    expect(err).toBeInstanceOf(TrainingAbortedError);
    expect(ticks).toBeGreaterThan(0);
    const c = (err as TrainingAbortedError).checkpoint;
    expect(c.epoch).toBeLessThan(100000);
  });

  it('stops early after `patience` epochs without improvement and restores the best weights', async () => {
    // minDelta so large that only the first epoch counts as an improvement.
    const spec: TrainingSpec = { ...FULL, validationSplit: 0, earlyStopping: { patience: 2, minDelta: 1e9 }, epochs: 10 };
    const stopped = await train(spec, spirals);
    expect(stopped.stoppedEarly).toBe(true);
    expect(stopped.epochsRun).toBe(3);
    const oneEpoch = await train({ ...spec, epochs: 1, earlyStopping: undefined }, spirals);
    expect(stopped.weightsHash).toBe(oneEpoch.weightsHash);
    expect(stopped.loss).toBe(stopped.history[0].loss);
    const noRestore = await train({ ...spec, earlyStopping: { patience: 2, minDelta: 1e9, restoreBest: false } }, spirals);
    const threeEpochs = await train({ ...spec, epochs: 3, earlyStopping: undefined }, spirals);
    expect(noRestore.weightsHash).toBe(threeEpochs.weightsHash);
  });

  it('monitors the validation loss when there is a split and stops exactly when patience runs out', async () => {
    const spec: TrainingSpec = {
      model: { layers: [{ units: 64, activation: 'tanh' }, { units: 1, activation: 'linear' }] },
      loss: 'mse',
      optimizer: { type: 'adam', learningRate: 0.05 },
      epochs: 200,
      batchSize: 4,
      validationSplit: 0.5,
      earlyStopping: { patience: 3, minDelta: 0.001 },
      seed: 3,
    };
    // noisy targets on few rows: the validation loss stops improving long before 200 epochs
    const features = gaussianRows(24, 2, 8);
    const targets = gaussianRows(24, 1, 9).map((r, i) => r[0] + features[i][0]);
    const r = await train(spec, { features, targets });
    let best = Infinity, wait = 0, stopAt = -1;
    for (const h of r.history) {
      if (h.valLoss! < best - 0.001) {
        best = h.valLoss!;
        wait = 0;
      } else if (++wait >= 3) {
        stopAt = h.epoch;
        break;
      }
    }
    expect(r.stoppedEarly).toBe(true);
    expect(stopAt).toBe(r.epochsRun - 1);
    expect(r.valLoss).toBe(best);
  });
});

describe('train: checkpoint and resume', () => {
  let full: TrainResult;
  const boundaries: Checkpoint[] = [];
  const mids: Checkpoint[] = [];

  it('emits a structured-clone-able checkpoint at each epoch boundary', async () => {
    full = await train(FULL, spirals, {
      onCheckpoint: (c) => void (c.step === 0 ? boundaries : mids).push(c),
      checkpointEveryMs: 0,
    });
    expect(boundaries.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(mids.length).toBe(6 * (Math.ceil(96 / 7) - 1));
    const c = roundTrip(boundaries[2]);
    expect(c.history).toHaveLength(3);
    const s = c.state as { weights: Float32Array[]; optimizer: { steps: number } };
    expect(s.weights[0]).toBeInstanceOf(Float32Array);
    expect(s.optimizer.steps).toBe(3 * Math.ceil(96 / 7));
  });

  it('resuming from an epoch-boundary checkpoint ends with exactly the uninterrupted weights', async () => {
    for (const at of [0, 2, 5]) {
      const r = await train(FULL, spirals, { resumeFrom: roundTrip(boundaries[at]) });
      expect(r.weightsHash).toBe(full.weightsHash);
      expect(metricsOnly(r.history)).toEqual(metricsOnly(full.history));
    }
  });

  it('resuming from a mid-epoch checkpoint ends with exactly the uninterrupted weights', async () => {
    const mid = mids.find((c) => c.epoch === 3 && c.step === 5)!;
    expect(mid).toBeDefined();
    const r = await train(FULL, spirals, { resumeFrom: roundTrip(mid) });
    expect(r.weightsHash).toBe(full.weightsHash);
    expect(metricsOnly(r.history)).toEqual(metricsOnly(full.history));
  });

  it('a checkpoint of an older core (state.clipped, history rows with gradNorm/clipped) resumes to the same result under the new names', async () => {
    const mid = roundTrip(mids.find((c) => c.epoch === 3 && c.step === 5)!);
    const st = mid.state as Record<string, unknown>;
    expect(st.clippedSteps).toBeGreaterThan(0);
    st.clipped = st.clippedSteps;
    delete st.clippedSteps;
    mid.history = mid.history.map(({ gradNormMean, clippedSteps, ...rest }) => ({ ...rest, gradNorm: gradNormMean, clipped: clippedSteps }) as unknown as EpochMetrics);
    const r = await train(FULL, spirals, { resumeFrom: mid });
    expect(r.weightsHash).toBe(full.weightsHash);
    expect(r.clippedSteps).toBe(full.clippedSteps);
    expect(metricsOnly(r.history)).toEqual(metricsOnly(full.history));
    expect(modelFromCheckpoint(FULL, mid).history.map((h) => Object.keys(h).sort())).toEqual(full.history.slice(0, 3).map((h) => Object.keys(h).sort()));
  });

  it('an abort carries a checkpoint that resumes to exactly the uninterrupted weights', async () => {
    const ac = new AbortController();
    const err = await train(FULL, spirals, {
      signal: ac.signal,
      progressEverySteps: 1,
      onProgress: (p) => {
        if (p.epoch === 2 && p.step === 4) ac.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingAbortedError);
    const c = roundTrip((err as TrainingAbortedError).checkpoint);
    expect([c.epoch, c.step]).toEqual([2, 4]);
    expect(c.globalStep).toBe(2 * Math.ceil(96 / 7) + 4);
    const r = await train(FULL, spirals, { resumeFrom: c });
    expect(r.weightsHash).toBe(full.weightsHash);
    expect(metricsOnly(r.history)).toEqual(metricsOnly(full.history));
  });

  it('resuming an early-stopped run returns the restored weights without training more', async () => {
    const spec: TrainingSpec = { ...FULL, validationSplit: 0, earlyStopping: { patience: 2, minDelta: 1e9 }, epochs: 10 };
    const cps: Checkpoint[] = [];
    const r = await train(spec, spirals, { onCheckpoint: (c) => void cps.push(c) });
    const again = await train(spec, spirals, { resumeFrom: roundTrip(cps.at(-1)!) });
    expect(again.weightsHash).toBe(r.weightsHash);
    expect(again.epochsRun).toBe(3);
    expect(again.stoppedEarly).toBe(true);
  });

  it('refuses a checkpoint from another architecture or other data', async () => {
    const c = roundTrip(boundaries[0]);
    const other = { ...FULL, model: { layers: [{ units: 13, activation: 'tanh' as const }, { units: 2, activation: 'softmax' as const }] } };
    await expect(train(other, spirals, { resumeFrom: c })).rejects.toMatchObject({ name: 'InvalidSpecError', path: 'resumeFrom' });
    await expect(train(FULL, twoSpirals(60, 6), { resumeFrom: c })).rejects.toMatchObject({ name: 'InvalidSpecError', path: 'resumeFrom' });
  });
});

describe.runIf(fastKernelsAvailable())('train on the WebAssembly kernels', () => {
  it('learns like the reference kernels and resumes bit-exactly from a mid-epoch checkpoint', async () => {
    const mids: Checkpoint[] = [];
    const wasm = await train(FULL, spirals, { kernels: 'wasm', checkpointEveryMs: 0, onCheckpoint: (c) => void (c.step > 0 && mids.push(c)) });
    const js = await train(FULL, spirals, { kernels: 'js' });
    expect(Math.abs(wasm.loss - js.loss)).toBeLessThan(1e-3);
    const resumed = await train(FULL, spirals, { kernels: 'wasm', resumeFrom: roundTrip(mids[20]) });
    expect(resumed.weightsHash).toBe(wasm.weightsHash);
  });
});
