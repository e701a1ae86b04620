import { describe, expect, it } from 'vitest';
import { InvalidSpecError, modelFromCheckpoint, predict, train, type Checkpoint, type TrainingSpec } from '../../src/core/index.js';
import { noisyMoons } from './helpers/datasets.js';

const moons = noisyMoons(200, 0.2, 3);
const spec: TrainingSpec = {
  model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 0.01 },
  epochs: 6,
  batchSize: 16,
  validationSplit: 0.2,
  seed: 5,
};

describe('modelFromCheckpoint', () => {
  it('an epoch-end checkpoint gives the model an uninterrupted run had after that epoch, without the data', async () => {
    const ends: Checkpoint[] = [];
    await train(spec, moons, { onCheckpoint: (c) => void (c.step === 0 && ends.push(structuredClone(c))) });
    expect(ends.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    const after3 = await train({ ...spec, epochs: 3 }, moons);
    const r = modelFromCheckpoint(spec, ends[2], { featureNames: ['x', 'y'] });
    expect(r.weightsHash).toBe(after3.weightsHash);
    expect(r.model.weightsHash).toBe(after3.model.weightsHash);
    expect(r.epochsRun).toBe(3);
    expect(r.history.map((h) => h.epoch)).toEqual([0, 1, 2]);
    expect([r.loss, r.valLoss, r.accuracy]).toEqual([after3.loss, after3.valLoss, after3.accuracy]);
    expect(r.model.featureNames).toEqual(['x', 'y']);
    expect(predict(r.model, [[0.5, 0.2]])).toEqual(predict(after3.model, [[0.5, 0.2]]));
  });

  it('refuses a checkpoint of another architecture', async () => {
    const ends: Checkpoint[] = [];
    await train({ ...spec, epochs: 1 }, moons, { onCheckpoint: (c) => void ends.push(c) });
    const other = { ...spec, model: { layers: [{ units: 4, activation: 'tanh' }, { units: 2, activation: 'softmax' }] } } as TrainingSpec;
    expect(() => modelFromCheckpoint(other, ends[0])).toThrow(InvalidSpecError);
  });
});
