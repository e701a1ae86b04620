import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import {
  DivergenceError,
  InvalidSpecError,
  TrainingAbortedError,
  train,
  type Checkpoint,
  type CoreCheckpointState,
  type TrainingSpec,
} from '../../src/core/index.js';
import { noisyMoons } from './helpers/datasets.js';

/** The QA report's set: 1,000 noisy moons, 2-16(tanh)-2(softmax). */
const moons = noisyMoons(1000, 0.2, 1);
const base: TrainingSpec = {
  model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'sgd', learningRate: 0.1 },
  epochs: 8,
  batchSize: 32,
  seed: 1,
};
/** A growth factor no finite loss reaches: the explosion limit is off. */
const OFF = 1e300;
const STEPS = Math.ceil(1000 / 32);

const roundTrip = (c: Checkpoint) => deserialize(serialize(c)) as Checkpoint;
const failure = (p: Promise<unknown>) => p.then(() => new Error('completed'), (e: unknown) => e);

/** Mean softmax cross-entropy at init: with full batch, the first (and only) batch of epoch 0 is scored before any update. */
async function lossAtInit(spec: TrainingSpec): Promise<number> {
  const r = await train({ ...spec, optimizer: { type: 'sgd', learningRate: 1e-3 }, batchSize: 1000, epochs: 1, maxLossGrowth: OFF }, moons);
  return r.history[0].loss;
}

describe('train: loss explosion (finite but useless) is a divergence', () => {
  it.each([
    ['sgd', 1000],
    ['adam', 100],
  ] as const)('%s at learning rate %d throws DivergenceError what: loss at the first epoch over 100 × max(L0, 1)', async (type, learningRate) => {
    const spec: TrainingSpec = { ...base, optimizer: { type, learningRate } };
    // The same run with the limit off: it "completes" with a loss far above the 0.69 of a coin flip.
    const free = await train({ ...spec, maxLossGrowth: OFF }, moons);
    expect(free.loss).toBeGreaterThan(10);
    const L0 = await lossAtInit(spec);
    expect(L0).toBeGreaterThan(0.3);
    expect(L0).toBeLessThan(1); // so the floor 1 sets the limit: 100
    const first = free.history.findIndex((h) => h.loss > 100 * Math.max(L0, 1));
    expect(first).toBeGreaterThanOrEqual(0);

    const err = await failure(train(spec, moons));
    expect(err).toBeInstanceOf(DivergenceError);
    const d = err as DivergenceError;
    expect(d).toMatchObject({ what: 'loss', epoch: first, step: STEPS });
    expect(d.growth!.loss).toBe(free.history[first].loss);
    // L0 is the mean over all training rows at init (row-chunk sums vs one sum: float32 rounding apart).
    expect(d.growth!.initialLoss).toBeCloseTo(L0, 5);
    expect(d.growth).toMatchObject({ factor: 100, learningRate, optimizer: type });
    expect(d.message).toMatch(new RegExp(`^training diverged at epoch ${first}, step ${STEPS}: the training loss grew from 0\\.\\d+ at the start to \\d+(\\.\\d+)? by epoch ${first} \\(× \\d+`));
    expect(d.message).toContain(`the learning rate ${learningRate} is probably too high; lower it (try ${type === 'sgd' ? '0.01–0.1 for sgd' : '0.0001–0.01 for adam'})`);
    expect(d.message).toMatch(/enable clipping .*or change the init$/);
  });

  it('normal learning rates on the same data are not flagged (loss falls from L0)', async () => {
    for (const optimizer of [{ type: 'sgd', learningRate: 0.1 }, { type: 'adam', learningRate: 0.01 }] as const) {
      const r = await train({ ...base, optimizer }, moons);
      expect(r.epochsRun).toBe(8);
      expect(r.loss).toBeLessThan(0.4);
    }
  });

  it('the limit is maxLossGrowth × max(L0, 1): the floor keeps L0 < 1 from tightening it; the factor is configurable', async () => {
    // rmsprop at 10: a bad run whose loss stays finite and below 100 (the default limit).
    const spec: TrainingSpec = { ...base, optimizer: { type: 'rmsprop', learningRate: 10 } };
    const free = await train({ ...spec, maxLossGrowth: OFF }, moons);
    const worst = Math.max(...free.history.map((h) => h.loss));
    const L0 = await lossAtInit(spec);
    expect(worst).toBeLessThan(100);
    await expect(train(spec, moons)).resolves.toMatchObject({ epochsRun: 8 });

    // A factor between worst/1 and worst/L0: over the loss without the floor, under it with.
    const loose = worst * 1.01;
    expect(loose * L0).toBeLessThan(free.history[0].loss);
    await expect(train({ ...spec, maxLossGrowth: loose }, moons)).resolves.toMatchObject({ epochsRun: 8 });
    // Just under the worst epoch: that epoch (the first that crosses) throws.
    const tight = worst * 0.99;
    const first = free.history.findIndex((h) => h.loss > tight);
    const err = (await failure(train({ ...spec, maxLossGrowth: tight }, moons))) as DivergenceError;
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err).toMatchObject({ what: 'loss', epoch: first, growth: { factor: tight, loss: free.history[first].loss } });
  });

  it('rejects a maxLossGrowth that is not a finite number > 1', async () => {
    for (const bad of [1, 0.5, -3, Infinity, NaN]) {
      const err = await failure(train({ ...base, maxLossGrowth: bad }, moons));
      expect(err).toBeInstanceOf(InvalidSpecError);
      expect((err as InvalidSpecError).path).toBe('maxLossGrowth');
    }
  });

  it('a run resumed from a checkpoint (epoch boundary, after a round trip) decides identically: L0 is in the checkpoint', async () => {
    // Full batch, sgd at 100: 0.52 at init, 14 after epoch 1, 226 at epoch 2, which crosses 100.
    const spec: TrainingSpec = { ...base, optimizer: { type: 'sgd', learningRate: 100 }, batchSize: 1000 };
    const checkpoints: Checkpoint[] = [];
    const err = (await failure(train(spec, moons, { onCheckpoint: (c) => void checkpoints.push(roundTrip(c)) }))) as DivergenceError;
    expect(err).toMatchObject({ what: 'loss', epoch: 2, step: 1 });
    expect(checkpoints.map((c) => c.epoch)).toEqual([1, 2]);
    const saved = checkpoints[1];
    expect((saved.state as CoreCheckpointState).initialLoss).toBe(err.growth!.initialLoss);

    const resumed = (await failure(train(spec, moons, { resumeFrom: saved }))) as DivergenceError;
    expect(resumed).toBeInstanceOf(DivergenceError);
    expect(resumed.message).toBe(err.message);
    expect(resumed.growth).toEqual(err.growth);

    // A checkpoint of an older core (no initialLoss) cannot recover L0 after step 0: the limit is off.
    const legacy = structuredClone(saved);
    delete (legacy.state as CoreCheckpointState).initialLoss;
    await expect(train(spec, moons, { resumeFrom: legacy })).resolves.toMatchObject({ epochsRun: 8 });
  });

  it('an abort mid-epoch and a resume end in the same DivergenceError, bit for bit', async () => {
    const spec: TrainingSpec = { ...base, optimizer: { type: 'sgd', learningRate: 1000 } };
    const straight = (await failure(train(spec, moons))) as DivergenceError;
    const ac = new AbortController();
    const aborted = await failure(
      train(spec, moons, { signal: ac.signal, progressEverySteps: 10, onProgress: (p) => void (p.step === 10 && ac.abort()) }),
    );
    expect(aborted).toBeInstanceOf(TrainingAbortedError);
    const c = roundTrip((aborted as TrainingAbortedError).checkpoint);
    expect(c).toMatchObject({ epoch: 0, step: 10 });
    const resumed = (await failure(train(spec, moons, { resumeFrom: c }))) as DivergenceError;
    expect(resumed).toBeInstanceOf(DivergenceError);
    expect(resumed).toMatchObject({ epoch: straight.epoch, step: straight.step, what: 'loss' });
    expect(resumed.growth).toEqual(straight.growth);
  });
});

describe('DivergenceError messages', () => {
  it('say what is not finite in correct English', () => {
    expect(new DivergenceError(2, 5, 'weights').message).toBe(
      "training diverged at epoch 2, step 5: the weights are not finite; lower the learning rate, enable clipping (clip: {type:'global_norm', maxNorm: 1}), or change the init",
    );
    expect(new DivergenceError(0, 1, 'gradient').message).toMatch(/step 1: the gradient norm is not finite; lower/);
    expect(new DivergenceError(0, 1, 'loss').message).toMatch(/step 1: the loss is not finite; lower/);
  });

  it('an exploded loss under a low learning rate asks to lower it without calling it too high', () => {
    const e = new DivergenceError(3, 7, 'loss', { initialLoss: 0.6931, loss: 532.93, factor: 100, learningRate: 0.05, optimizer: 'sgd' });
    expect(e.message).toBe(
      "training diverged at epoch 3, step 7: the training loss grew from 0.6931 at the start to 532.9 by epoch 3 (× 769, over the limit of 100 × max(start loss, 1)): lower the learning rate (now 0.05), enable clipping (clip: {type:'global_norm', maxNorm: 1}), or change the init",
    );
  });
});

describe('the divergence hint depends on the spec', () => {
  it('a spec that already clips is told to clip tighter, not to enable global-norm clipping', async () => {
    const err = await failure(train({ ...base, optimizer: { type: 'sgd', learningRate: 1000 }, clip: { type: 'global_norm', maxNorm: 5 } }, moons));
    expect(err).toBeInstanceOf(DivergenceError);
    const d = err as DivergenceError;
    expect(d.message).not.toMatch(/enable clipping/);
    expect(d.message).toMatch(/clip tighter \(clip\.maxNorm is 5; try 0\.5\), or change the init$/);
    expect(d.hint).toBe('lower the learning rate, clip tighter (clip.maxNorm is 5; try 0.5), or change the init');
  });

  it('clipping by value names its own field; no clip keeps the usual cures', () => {
    expect(new DivergenceError(0, 1, 'gradient', undefined, { type: 'value', value: 0.5 }).message).toBe(
      'training diverged at epoch 0, step 1: the gradient norm is not finite; lower the learning rate, clip tighter (clip.value is 0.5; try 0.05), or change the init',
    );
    expect(new DivergenceError(0, 1, 'gradient').hint).toMatch(/enable clipping \(clip: \{type:'global_norm', maxNorm: 1\}\)/);
  });
});
