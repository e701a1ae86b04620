import { describe, expect, it } from 'vitest';
import { predict, train } from '../../src/core/index.js';
import type { Activation, DataSet, DType, LossName, Model } from '../../src/core/types.js';
import { modelToOnnx } from '../../src/export/onnx.js';
import { gaussianRows, noisyMoons } from '../core/helpers/datasets.js';
import { maxAbsDiff, runOnnx } from '../helpers/model-runtimes.js';

async function onnxOf(model: Model, rows: number[][]) {
  return runOnnx(modelToOnnx(model), rows, model.dtype);
}

async function trained(loss: LossName, layers: { units: number; activation: Activation }[], data: DataSet, dtype: DType, normalize: boolean | { targets: boolean } = true): Promise<Model> {
  const res = await train({ model: { layers }, loss, optimizer: { type: 'adam', learningRate: 0.02 }, epochs: 6, batchSize: 16, seed: 3, dtype, normalize }, data);
  return res.model;
}

describe('ONNX export runs in onnxruntime-node like /predict', () => {
  // Shifted, scaled features so the normalization matters.
  const moons = noisyMoons(200, 0.1, 1);
  const features = moons.features.map(([x, y]) => [3 + 4 * x, -2 + 0.5 * y]);
  const probe = gaussianRows(64, 2, 9).map(([x, y]) => [3 + 4 * x, -2 + 0.5 * y]);

  for (const dtype of ['float32', 'float64'] as const) {
    it(`classification through every hidden activation (${dtype})`, async () => {
      const model = await trained(
        'softmax_cross_entropy',
        [{ units: 8, activation: 'relu' }, { units: 8, activation: 'leaky_relu' }, { units: 6, activation: 'tanh' }, { units: 5, activation: 'sigmoid' }, { units: 4, activation: 'linear' }, { units: 2, activation: 'softmax' }],
        { features, targets: moons.targets },
        dtype,
      );
      const expected = predict(model, probe);
      const got = await onnxOf(model, probe);
      const diff = maxAbsDiff(got.output, expected.probabilities!);
      console.log(`onnx ${dtype} classification: max |onnx − predict| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-5);
      expect(got.label).toEqual(expected.predictions);
    });
  }

  it('binary (sigmoid output)', async () => {
    const model = await trained('binary_cross_entropy', [{ units: 6, activation: 'leaky_relu' }, { units: 1, activation: 'sigmoid' }], { features, targets: moons.targets }, 'float32');
    const expected = predict(model, probe);
    const got = await onnxOf(model, probe);
    expect(maxAbsDiff(got.output, expected.probabilities!)).toBeLessThan(1e-5);
    expect(got.label).toBeUndefined();
  });

  it('regression with normalized targets mapped back (two outputs)', async () => {
    const targets = features.map(([x, y]) => [Math.sin(x) + y, 5 + 2 * x * 0.1]);
    const model = await trained('mse', [{ units: 10, activation: 'tanh' }, { units: 2, activation: 'linear' }], { features, targets }, 'float64', { targets: true });
    expect(model.normalization?.targetStd).toBeDefined();
    const expected = predict(model, probe).predictions as number[][];
    const got = await onnxOf(model, probe);
    const diff = maxAbsDiff(got.output, expected);
    console.log(`onnx float64 regression: max |onnx − predict| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
  });

  it('a model without normalization has no Sub/Div', async () => {
    const model = await trained('mse', [{ units: 3, activation: 'relu' }, { units: 1, activation: 'linear' }], { features: probe, targets: probe.map(([x]) => x) }, 'float32', false);
    expect(model.normalization).toBeUndefined();
    const bytes = Buffer.from(modelToOnnx(model)).toString('latin1');
    expect(bytes).not.toContain('feature_mean');
    const got = await onnxOf(model, probe);
    const expected = (predict(model, probe).predictions as number[]).map((v) => [v]);
    expect(maxAbsDiff(got.output, expected)).toBeLessThan(1e-5);
  });
});
