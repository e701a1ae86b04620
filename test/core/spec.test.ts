import { describe, expect, it } from 'vitest';
import { InvalidSpecError, gradientCheck, train, type DataSet, type TrainingSpec } from '../../src/core/index.js';

const classification: DataSet = { features: [[0, 1], [1, 0], [1, 1], [0, 0]], targets: [0, 1, 2, 1] };
const binary: DataSet = { features: [[0, 1], [1, 0], [1, 1], [0, 0]], targets: [0, 1, 1, 0] };
const regression: DataSet = { features: [[0, 1], [1, 0], [1, 1], [0, 0]], targets: [[0.5, 1], [1, 2], [0, 0], [3, 1]] };

const base: TrainingSpec = {
  model: { layers: [{ units: 4, activation: 'relu' }, { units: 3, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam' },
  epochs: 1,
  batchSize: 2,
};

async function pathOf(spec: unknown, data: DataSet = classification): Promise<string> {
  const err = await train(spec as TrainingSpec, data).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidSpecError);
  return (err as InvalidSpecError).path;
}

describe('spec validation (InvalidSpecError with a field path)', () => {
  it('output units must match the number of classes', async () => {
    const err = await train({ ...base, model: { layers: [{ units: 4, activation: 'relu' }, { units: 2, activation: 'softmax' }] } }, classification).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidSpecError);
    expect(err.path).toBe('model.layers.1.units');
    expect(err.message).toBe('model.layers.1.units: the output layer has 2 units but the dataset has 3 classes (labels 0..2); set units to 3');
  });

  const cases: [string, unknown, DataSet | undefined, string][] = [
    ['softmax on a hidden layer', { ...base, model: { layers: [{ units: 4, activation: 'softmax' }, { units: 3, activation: 'softmax' }] } }, undefined, 'model.layers.0.activation'],
    ['unknown activation', { ...base, model: { layers: [{ units: 4, activation: 'gelu' }, { units: 3, activation: 'softmax' }] } }, undefined, 'model.layers.0.activation'],
    ['zero units', { ...base, model: { layers: [{ units: 0, activation: 'relu' }, { units: 3, activation: 'softmax' }] } }, undefined, 'model.layers.0.units'],
    ['no layers', { ...base, model: { layers: [] } }, undefined, 'model.layers'],
    ['unknown init', { ...base, model: { ...base.model, init: 'zeros' } }, undefined, 'model.init'],
    ['softmax CE without softmax output', { ...base, model: { layers: [{ units: 3, activation: 'sigmoid' }] } }, undefined, 'model.layers.0.activation'],
    ['softmax CE with non-integer class', base, { features: [[0], [1]], targets: [0, 1.5] }, 'loss'],
    ['softmax CE with a negative class', base, { features: [[0], [1]], targets: [0, -1] }, 'loss'],
    ['BCE without sigmoid output', { ...base, loss: 'binary_cross_entropy', model: { layers: [{ units: 1, activation: 'linear' }] } }, binary, 'model.layers.0.activation'],
    ['BCE with a target of 2', { ...base, loss: 'binary_cross_entropy', model: { layers: [{ units: 1, activation: 'sigmoid' }] } }, { features: [[0], [1]], targets: [0, 2] }, 'loss'],
    ['mse width mismatch', { ...base, loss: 'mse', model: { layers: [{ units: 3, activation: 'linear' }] } }, regression, 'model.layers.0.units'],
    ['unknown loss', { ...base, loss: 'hinge' }, undefined, 'loss'],
    ['batchSize 0', { ...base, batchSize: 0 }, undefined, 'batchSize'],
    ['batchSize 1.5', { ...base, batchSize: 1.5 }, undefined, 'batchSize'],
    ['epochs 0', { ...base, epochs: 0 }, undefined, 'epochs'],
    ['validationSplit 1', { ...base, validationSplit: 1 }, undefined, 'validationSplit'],
    ['validationSplit −0.1', { ...base, validationSplit: -0.1 }, undefined, 'validationSplit'],
    ['validationSplit leaving no training row', { ...base, loss: 'mse', model: { layers: [{ units: 1, activation: 'linear' }] }, validationSplit: 0.5 }, { features: [[0]], targets: [1] }, 'validationSplit'],
    ['unknown optimizer', { ...base, optimizer: { type: 'lion' } }, undefined, 'optimizer.type'],
    ['negative learning rate', { ...base, optimizer: { type: 'sgd', learningRate: -1 } }, undefined, 'optimizer.learningRate'],
    ['bad clip', { ...base, clip: { type: 'global_norm', maxNorm: 0 } }, undefined, 'clip.maxNorm'],
    ['bad schedule', { ...base, schedule: { type: 'exponential' } }, undefined, 'schedule.gamma'],
    ['bad dtype', { ...base, dtype: 'float16' }, undefined, 'dtype'],
    ['early stopping without patience', { ...base, earlyStopping: { patience: 0 } }, undefined, 'earlyStopping.patience'],
    ['target normalization on a classifier', { ...base, normalize: { targets: true } }, undefined, 'normalize.targets'],
    ['gradient check tolerance', { ...base, gradientCheck: { tolerance: -1 } }, undefined, 'gradientCheck.tolerance'],
    ['ragged feature row', base, { features: [[0, 1], [1]], targets: [0, 1] }, 'data.features[1]'],
    ['NaN feature', base, { features: [[0, 1], [1, NaN]], targets: [0, 1] }, 'data.features[1][1]'],
    ['targets row count', base, { features: [[0, 1], [1, 0]], targets: [[0], [1], [1]] }, 'data.targets'],
    ['flat buffer without rows', base, { features: new Float32Array(4), targets: [0, 1] }, 'data.rows'],
    ['flat buffer of the wrong length', base, { features: new Float32Array(5), rows: 2, featureCount: 2, targets: [0, 1] }, 'data.features'],
  ];
  for (const [name, spec, data, path] of cases) {
    it(`${name} → ${path}`, async () => {
      expect(await pathOf(spec, data ?? classification)).toBe(path);
    });
  }

  it('accepts flat typed-array datasets and trains on them like number[][]', async () => {
    const spec: TrainingSpec = { ...base, model: { layers: [{ units: 4, activation: 'tanh' }, { units: 3, activation: 'softmax' }] }, epochs: 3 };
    const nested = await train(spec, classification);
    const flat = await train(spec, { features: new Float64Array([0, 1, 1, 0, 1, 1, 0, 0]), rows: 4, featureCount: 2, targets: new Float32Array([0, 1, 2, 1]) });
    expect(flat.weightsHash).toBe(nested.weightsHash);
  });

  it('gradientCheck validates the same spec', () => {
    expect(() => gradientCheck({ ...base, batchSize: 0 }, classification)).toThrow(InvalidSpecError);
  });

  it('runs the gradient check before training when spec.gradientCheck is set', async () => {
    const r = await train({ ...base, model: { layers: [{ units: 4, activation: 'tanh' }, { units: 3, activation: 'softmax' }] }, gradientCheck: true }, classification);
    expect(r.gradientCheck?.passed).toBe(true);
    expect(r.gradientCheck?.checked).toBe(2 * 4 + 4 + 4 * 3 + 3);
    expect(r.gradientCheck?.tolerance).toBe(1e-4);
  });
});
