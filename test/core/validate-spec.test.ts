import { describe, expect, it } from 'vitest';
import { InvalidSpecError, train, validateSpec, type DatasetMeta, type TrainingSpec } from '../../src/core/index.js';
import { moons } from '../helpers/data.js';

// validateSpec is the one check of a spec against a dataset: the API runs it at submit, the
// worker before training, `train` on its own. These cases were once kept in agreement between
// the API's copy of the rules and the core's; now there is one copy to test.

const rows = moons(40);
const meta: DatasetMeta = { id: 'ds_moons', rows: 40, features: 2, targets: 1, targetValues: new Float64Array(rows.map((r) => r[2])) };
const data = { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) };

const softmax = { layers: [{ units: 4, activation: 'tanh' }, { units: 2, activation: 'softmax' }] } as const;
const sigmoid = { layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] } as const;
const linear = { layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'linear' }] } as const;
const base = { model: softmax, loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 2, batchSize: 8, seed: 1 } as unknown as TrainingSpec;
const spec = (s: Record<string, unknown>) => s as unknown as TrainingSpec;
const bce = spec({ ...base, model: sigmoid, loss: 'binary_cross_entropy' });
const mse = spec({ ...base, model: linear, loss: 'mse' });

const VALID: [string, TrainingSpec][] = [
  ['schedule constant', spec({ ...base, schedule: { type: 'constant' } })],
  ['schedule inverse_sqrt bare', spec({ ...base, schedule: { type: 'inverse_sqrt' } })],
  ['inverse_time decayRate 0', spec({ ...base, schedule: { type: 'inverse_time', decayRate: 0 } })],
  ['inverse_sqrt k 2', spec({ ...base, schedule: { type: 'inverse_sqrt', k: 2 } })],
  ['exponential gamma 1', spec({ ...base, schedule: { type: 'exponential', gamma: 1 } })],
  ['step both', spec({ ...base, schedule: { type: 'step', gamma: 0.5, stepSize: 2 } })],
  ['mse normalize {targets:true}', spec({ ...mse, normalize: { targets: true } })],
  ...[base, bce, mse].flatMap((s) => [
    [`${s.loss} normalize {features:false}`, spec({ ...s, normalize: { features: false } })] as [string, TrainingSpec],
    [`${s.loss} normalize false`, spec({ ...s, normalize: false })] as [string, TrainingSpec],
  ]),
  ...(['beta', 'momentum'] as const).flatMap((k) => [0, 0.5, 0.999].map((v) => [`momentum ${k} ${v}`, spec({ ...base, optimizer: { type: 'momentum', variant: 'ema', [k]: v } })] as [string, TrainingSpec])),
  ...(['beta', 'momentum'] as const).flatMap((k) => [0, 0.9].map((v) => [`rmsprop ${k} ${v}`, spec({ ...base, optimizer: { type: 'rmsprop', [k]: v } })] as [string, TrainingSpec])),
  ...(['adam', 'adamw'] as const).flatMap((type) =>
    (['beta1', 'beta2'] as const).flatMap((k) => [0, 0.5].map((v) => [`${type} ${k} ${v}`, spec({ ...base, optimizer: { type, [k]: v } })] as [string, TrainingSpec])),
  ),
  ['sgd weightDecay 0', spec({ ...base, optimizer: { type: 'sgd', weightDecay: 0 } })],
  ['momentum nesterov', spec({ ...base, optimizer: { type: 'momentum', nesterov: true } })],
  ['rmsprop centered', spec({ ...base, optimizer: { type: 'rmsprop', centered: true, epsilon: 1e-7 } })],
  ['clip value', spec({ ...base, clip: { type: 'value', value: 1 } })],
  ['clip norm', spec({ ...base, clip: { type: 'norm', maxNorm: 1 } })],
  ['clip global_norm', spec({ ...base, clip: { type: 'global_norm', maxNorm: 1 } })],
  ['gradientCheck true', spec({ ...base, gradientCheck: true })],
  ['gradientCheck options', spec({ ...base, gradientCheck: { epsilon: 1e-4, batchSize: 4 } })],
  ['earlyStopping', spec({ ...base, earlyStopping: { patience: 1, minDelta: 0 }, validationSplit: 0.25 })],
  ['validationSplit 0.8 (32 of 40 held out, 8 = one batch left)', spec({ ...base, validationSplit: 0.8 })],
  ['validationSplit 0.9 with full-batch training', spec({ ...base, batchSize: 40, validationSplit: 0.9 })],
  ['dtype float64', spec({ ...base, dtype: 'float64' })],
  ['init he_normal', spec({ ...base, model: { ...softmax, init: 'he_normal' } })],
];

const INVALID: [string, TrainingSpec, string, RegExp][] = [
  ['inverse_time without decayRate', spec({ ...base, schedule: { type: 'inverse_time' } }), 'schedule.decayRate', /≥ 0/],
  ['exponential without gamma', spec({ ...base, schedule: { type: 'exponential' } }), 'schedule.gamma', /\(0, 1\]/],
  ['step without either', spec({ ...base, schedule: { type: 'step' } }), 'schedule.gamma', /\(0, 1\]/],
  ['step gamma only', spec({ ...base, schedule: { type: 'step', gamma: 0.5 } }), 'schedule.stepSize', /integer ≥ 1/],
  ['step stepSize only', spec({ ...base, schedule: { type: 'step', stepSize: 2 } }), 'schedule.gamma', /\(0, 1\]/],
  ['softmax CE normalize {targets:true}', spec({ ...base, normalize: { targets: true } }), 'normalize.targets', /mse/],
  ['BCE normalize {targets:true}', spec({ ...bce, normalize: { targets: true } }), 'normalize.targets', /mse/],
  ['validationSplit 0.99', spec({ ...base, validationSplit: 0.99 }), 'validationSplit', /holds out 39 of 40 rows and leaves 1 for training, fewer than one batch of 8 \(batchSize 8\); use at most 0\.8/],
  ['validationSplit 0.9', spec({ ...base, validationSplit: 0.9 }), 'validationSplit', /leaves 4 for training/],
  ['adam beta1 1', spec({ ...base, optimizer: { type: 'adam', beta1: 1 } }), 'optimizer.beta1', /must be in \[0, 1\), got 1/],
  ['clip maxNorm 0', spec({ ...base, clip: { type: 'global_norm', maxNorm: 0 } }), 'clip.maxNorm', /> 0/],
  ['output units ≠ classes', spec({ ...base, model: { layers: [{ units: 3, activation: 'softmax' }] } }), 'model.layers.0.units', /dataset 'ds_moons' has 2 classes \(labels 0\.\.1\); set units to 2/],
  ['softmax on a hidden layer', spec({ ...base, model: { layers: [{ units: 4, activation: 'softmax' }, { units: 2, activation: 'softmax' }] } }), 'model.layers.0.activation', /output layer only/],
  ['mse with a softmax output', spec({ ...mse, model: { layers: [{ units: 1, activation: 'softmax' }] } }), 'model.layers.0.activation', /softmax_cross_entropy/],
  ['BCE without sigmoid', spec({ ...bce, model: linear }), 'model.layers.1.activation', /needs a sigmoid/],
];

describe('validateSpec', () => {
  it.each(VALID)('%s → no problem, and it trains', async (_n, s) => {
    expect(validateSpec(s, meta)).toEqual([]);
  });

  it.each(INVALID)('%s → one problem at the field', (_n, s, path, message) => {
    const problems = validateSpec(s, meta);
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(problems[0].message).toMatch(message);
  });

  it('train() refuses what validateSpec refuses, at the same path, and trains what it accepts', async () => {
    for (const [, s, path] of INVALID.slice(0, 5)) {
      const err = await train(s, data).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidSpecError);
      expect((err as InvalidSpecError).path).toBe(path);
    }
    for (const [, s] of VALID.slice(0, 3)) await expect(train({ ...s, epochs: 1 }, data)).resolves.toBeDefined();
  });

  it('returns every problem at once, in the order of the spec', () => {
    const problems = validateSpec(spec({ ...base, epochs: 0, batchSize: 0, optimizer: { type: 'adam', beta2: 2 }, clip: { type: 'value', value: -1 }, dtype: 'float16' }), meta);
    expect(problems.map((p) => p.path)).toEqual(['epochs', 'batchSize', 'dtype', 'optimizer.beta2', 'clip.value']);
  });

  it.each([
    ['softmax_cross_entropy, label −1', base, [1, -1, 1, 0], /label -1 in row 1/],
    ['binary_cross_entropy, label −1', bce, [1, -1, 1, 0], /has -1 in row 1/],
    ['softmax_cross_entropy, label 1.5', base, [0, 1.5, 1, 0], /label 1\.5 in row 1/],
    ['binary_cross_entropy, label 1.5', bce, [0, 1.5, 1, 0], /has 1\.5 in row 1/],
  ])('%s → a problem at loss naming the row and the value', (_n, s, labels, message) => {
    const problems = validateSpec({ ...s, batchSize: 2 }, { rows: 4, features: 1, targets: 1, targetValues: labels });
    expect(problems.map((p) => p.path)).toEqual(['loss']);
    expect(problems[0].message).toMatch(message);
  });

  it('without the labels, the class count the upload found is used', () => {
    const upload = { rows: 40, features: 2, targets: 1, targetKind: 'integer' as const, classes: 3 };
    expect(validateSpec(base, upload).map((p) => p.message)).toEqual(["the output layer has 2 units but the dataset has 3 classes (labels 0..2); set units to 3"]);
    expect(validateSpec(base, { ...upload, targetKind: 'real', classes: undefined })[0].path).toBe('loss');
  });

  it('validationSplit: 0.999 on 400 rows would train on one row → a problem with the numbers', () => {
    const p = validateSpec(spec({ ...mse, batchSize: 32, validationSplit: 0.999 }), { rows: 400, features: 2, targets: 1 });
    expect(p).toEqual([{ path: 'validationSplit', message: 'validationSplit 0.999 holds out 399 of 400 rows and leaves 1 for training, fewer than one batch of 32 (batchSize 32); use at most 0.92' }]);
    const tiny = validateSpec(spec({ ...mse, batchSize: 4, validationSplit: 0.5 }), { rows: 1, features: 2, targets: 1 });
    expect(tiny[0].message).toMatch(/^1 row cannot hold 1 training row \(batchSize 4\) and 1 validation row/);
    expect(validateSpec(spec({ ...mse, batchSize: 32, validationSplit: 0.92 }), { rows: 400, features: 2, targets: 1 })).toEqual([]);
  });

  it('the work caps name the numbers', () => {
    const p = validateSpec(spec({ ...base, epochs: 1000 }), meta, { maxParams: 10 });
    expect(p).toEqual([{ path: 'model.layers', message: 'the model has 22 parameters on 2 inputs, more than 10 (MAX_PARAMS); use fewer or smaller layers' }]);
    const c = validateSpec(spec({ ...base, epochs: 1000 }), meta, { maxTrainingCost: 1e5 });
    expect(c[0].path).toBe('epochs');
    expect(c[0].message).toMatch(/1000 epochs × 40 training rows × 22 parameters = 8\.80e\+5, more than 1\.00e\+5 \(MAX_TRAINING_COST\); use at most 113 epochs/);
  });
});
