import { describe, expect, it } from 'vitest';
import { InvalidSpecError, loadModel, predict, train, type Checkpoint, type Model, type TrainingSpec } from '../../src/core/index.js';
import { columnStats } from '../../src/core/normalize.js';
import { gaussianRows, twoSpirals } from './helpers/datasets.js';

describe('normalization', () => {
  it('columnStats: population mean/std, a constant column gets std 1', () => {
    const s = columnStats([[1, 5], [3, 5], [5, 5]], 2, [0, 1, 2]);
    expect(s.mean).toEqual([3, 5]);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 15);
    expect(s.std[1]).toBe(1);
  });

  it('a zero-variance column trains without NaN and is stored with std 1', async () => {
    const features = gaussianRows(40, 2, 3).map((r) => [r[0], 7, r[1]]);
    const targets = features.map((f) => (f[0] + f[2] > 0 ? 1 : 0));
    const r = await train(
      {
        model: { layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] },
        loss: 'binary_cross_entropy',
        optimizer: { type: 'adam', learningRate: 0.05 },
        epochs: 20,
        batchSize: 8,
      },
      { features, targets },
    );
    expect(r.model.normalization!.featureMean[1]).toBe(7);
    expect(r.model.normalization!.featureStd[1]).toBe(1);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.accuracy).toBeGreaterThan(0.9);
    const p = predict(r.model, [[0, 7, 0], [2, 7, 2]]);
    expect(p.probabilities!.flat().every(Number.isFinite)).toBe(true);
  });

  it('statistics come from the training split only', async () => {
    const data = twoSpirals(30, 4);
    // an outlier in every row keeps train/val means apart
    data.features.forEach((f, i) => f.push(i * i));
    let valIndices: Uint32Array | undefined;
    const r = await train(
      {
        model: { layers: [{ units: 2, activation: 'softmax' }] },
        loss: 'softmax_cross_entropy',
        optimizer: { type: 'sgd' },
        epochs: 1,
        batchSize: 10,
        validationSplit: 0.3,
        seed: 2,
      },
      data,
      { onCheckpoint: (c: Checkpoint) => void (valIndices = (c.state as { valIndices: Uint32Array }).valIndices) },
    );
    expect(valIndices!.length).toBe(18);
    const val = new Set(valIndices);
    const trainRows = data.features.filter((_, i) => !val.has(i));
    expect(trainRows.length).toBe(42);
    const mean = trainRows.reduce((s, f) => s + f[2], 0) / trainRows.length;
    const all = data.features.reduce((s, f) => s + f[2], 0) / data.features.length;
    expect(r.model.normalization!.featureMean[2]).toBeCloseTo(mean, 9);
    expect(Math.abs(mean - all)).toBeGreaterThan(1);
  });

  it('normalize {targets: true} z-scores regression targets and predict undoes it', async () => {
    const xs = Array.from({ length: 100 }, (_, i) => [-3 + (6 * i) / 99]);
    const ys = xs.map((x) => 1000 + 500 * Math.sin(x[0]));
    const spec: TrainingSpec = {
      model: { layers: [{ units: 16, activation: 'tanh' }, { units: 1, activation: 'linear' }] },
      loss: 'mse',
      optimizer: { type: 'adam', learningRate: 0.02 },
      epochs: 200,
      batchSize: 10,
      normalize: { targets: true },
      seed: 1,
    };
    const r = await train(spec, { features: xs, targets: ys });
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    expect(r.model.normalization!.targetMean![0]).toBeCloseTo(mean, 9);
    // the reported loss is in normalized units
    expect(r.loss).toBeLessThan(0.01);
    const p = predict(r.model, [[-2], [0.5], [2]]).predictions as number[];
    [-2, 0.5, 2].forEach((x, i) => expect(Math.abs(p[i] - (1000 + 500 * Math.sin(x)))).toBeLessThan(25));
  });
});

describe('model JSON and predict', () => {
  async function classifier(): Promise<{ model: Model; data: ReturnType<typeof twoSpirals> }> {
    const data = twoSpirals(30, 9);
    const r = await train(
      {
        model: { layers: [{ units: 8, activation: 'relu' }, { units: 2, activation: 'softmax' }] },
        loss: 'softmax_cross_entropy',
        optimizer: { type: 'adam', learningRate: 0.01 },
        epochs: 5,
        batchSize: 8,
        seed: 1,
      },
      data,
    );
    return { model: r.model, data };
  }

  it('round-trips through JSON.stringify/parse and loadModel with identical predictions', async () => {
    const { model, data } = await classifier();
    expect(model.format).toBe('tsnn-model');
    expect(model.version).toBe(1);
    expect(model.task).toBe('classification');
    expect(model.classes).toBe(2);
    expect(model.layers[0].weights).toHaveLength(2 * 8);
    const loaded = loadModel(JSON.parse(JSON.stringify(model)));
    expect(predict(loaded, data.features)).toEqual(predict(model, data.features));
    const p = predict(model, data.features);
    for (const [i, probs] of p.probabilities!.entries()) {
      expect(probs[0] + probs[1]).toBeCloseTo(1, 12);
      expect(p.predictions[i]).toBe(probs[1] > probs[0] ? 1 : 0);
    }
  });

  it('predict accepts a flat Float32Array of rows', async () => {
    const { model, data } = await classifier();
    const flat = Float32Array.from(data.features.flat());
    const rounded = data.features.map((r) => r.map(Math.fround));
    expect(predict(model, flat)).toEqual(predict(model, rounded));
  });

  it('binary models give 0/1 by the 0.5 threshold and the sigmoid outputs', async () => {
    const features = gaussianRows(30, 2, 5);
    const targets = features.map((f) => (f[0] > 0 ? 1 : 0));
    const r = await train(
      { model: { layers: [{ units: 1, activation: 'sigmoid' }] }, loss: 'binary_cross_entropy', optimizer: { type: 'adam', learningRate: 0.1 }, epochs: 30, batchSize: 5 },
      { features, targets },
    );
    const p = predict(r.model, features);
    expect(r.model.task).toBe('binary');
    p.probabilities!.forEach((q, i) => expect(p.predictions[i]).toBe(q[0] >= 0.5 ? 1 : 0));
    expect((p.predictions as number[]).filter((y, i) => y === targets[i]).length).toBeGreaterThanOrEqual(28);
  });

  it('keeps the feature names it was trained with; models without them (stored before) still load and predict', async () => {
    const data = twoSpirals(30, 9);
    const spec: TrainingSpec = { model: { layers: [{ units: 4, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'adam', learningRate: 0.01 }, epochs: 2, batchSize: 8, seed: 1 };
    const named = await train(spec, { ...data, featureNames: ['u', 'v'] });
    expect(named.model.featureNames).toEqual(['u', 'v']);
    expect(loadModel(JSON.parse(JSON.stringify(named.model))).featureNames).toEqual(['u', 'v']);
    const plain = await train(spec, data);
    expect(plain.weightsHash).toBe(named.weightsHash); // names change nothing else
    expect('featureNames' in plain.model).toBe(false);
    const old = loadModel(JSON.parse(JSON.stringify(plain.model)));
    expect(predict(old, [[0.1, 0.2]]).predictions).toHaveLength(1);
    for (const names of [['u'], ['u', 'v', 'w'], ['u', 3]])
      await expect(train(spec, { ...data, featureNames: names as string[] })).rejects.toMatchObject({ path: 'data.featureNames' });
    const m = JSON.parse(JSON.stringify(named.model));
    m.featureNames = ['u'];
    expect(() => loadModel(m)).toThrow(/featureNames must be an array of 2 strings/);
  });

  it('loadModel rejects bad models with the path of the problem', async () => {
    const { model } = await classifier();
    const bad = (mutate: (m: Record<string, any>) => void): string => {
      const m = JSON.parse(JSON.stringify(model));
      mutate(m);
      try {
        loadModel(m);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidSpecError);
        return (e as InvalidSpecError).path;
      }
      throw new Error('loadModel accepted a bad model');
    };
    expect(bad((m) => (m.format = 'onnx'))).toBe('format');
    expect(bad((m) => (m.version = 2))).toBe('version');
    expect(bad((m) => m.layers[1].weights.pop())).toBe('layers[1].weights');
    expect(bad((m) => (m.layers[0].bias[3] = 'x'))).toBe('layers[0].bias[3]');
    expect(bad((m) => (m.layers[0].activation = 'softmax'))).toBe('layers[0].activation');
    expect(bad((m) => (m.classes = 3))).toBe('classes');
    expect(bad((m) => (m.normalization.featureStd[0] = 0))).toBe('normalization.featureStd[0]');
    expect(bad((m) => (m.layers[0].weights[0] += 1e-3))).toBe('weightsHash');
    expect(bad((m) => (m.task = 'regression'))).toBe('task');
  });

  it('predict rejects rows of the wrong width', async () => {
    const { model } = await classifier();
    expect(() => predict(model, [[1, 2, 3]])).toThrow(InvalidSpecError);
  });
});
