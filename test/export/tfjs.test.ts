import { describe, expect, it } from 'vitest';
import { predict, train } from '../../src/core/index.js';
import type { Activation, DataSet, LossName, Model } from '../../src/core/types.js';
import { modelToTfjs } from '../../src/export/tfjs.js';
import { gaussianRows, noisyMoons } from '../core/helpers/datasets.js';
import { maxAbsDiff, runTfjs } from '../helpers/model-runtimes.js';

async function trained(loss: LossName, layers: { units: number; activation: Activation }[], data: DataSet, normalize: boolean | { targets: boolean } = true): Promise<Model> {
  const res = await train({ model: { layers }, loss, optimizer: { type: 'adam', learningRate: 0.02 }, epochs: 6, batchSize: 16, seed: 3, normalize }, data);
  return res.model;
}

describe('TF.js export loads with tf.loadLayersModel and predicts like /predict', () => {
  const moons = noisyMoons(200, 0.1, 1);
  const features = moons.features.map(([x, y]) => [3 + 4 * x, -2 + 0.5 * y]);
  const probe = gaussianRows(64, 2, 9).map(([x, y]) => [3 + 4 * x, -2 + 0.5 * y]);

  it('classification through every activation, normalization folded into the first layer', async () => {
    const model = await trained(
      'softmax_cross_entropy',
      [{ units: 8, activation: 'relu' }, { units: 8, activation: 'leaky_relu' }, { units: 6, activation: 'tanh' }, { units: 5, activation: 'sigmoid' }, { units: 4, activation: 'linear' }, { units: 2, activation: 'softmax' }],
      { features, targets: moons.targets },
    );
    const exp = modelToTfjs(model);
    expect(exp.files['model.json'].modelTopology).toMatchObject({ class_name: 'Sequential' });
    const got = await runTfjs(exp, probe);
    const diff = maxAbsDiff(got, predict(model, probe).probabilities!);
    console.log(`tfjs classification: max |tfjs − predict| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
  });

  it('regression: normalized targets folded into a linear last layer, or an extra diagonal layer after tanh', async () => {
    const targets = features.map(([x, y]) => [Math.sin(x) + y, 5 + 0.2 * x]);
    for (const last of ['linear', 'tanh'] as const) {
      const model = await trained('mse', [{ units: 10, activation: 'tanh' }, { units: 2, activation: last }], { features, targets }, { targets: true });
      expect(model.normalization?.targetStd).toBeDefined();
      const exp = modelToTfjs(model);
      const layerCount = (exp.files['model.json'].modelTopology.config as { layers: unknown[] }).layers.length;
      expect(layerCount).toBe(last === 'linear' ? 2 : 3);
      const diff = maxAbsDiff(await runTfjs(exp, probe), predict(model, probe).predictions as number[][]);
      console.log(`tfjs regression (${last} output): max |tfjs − predict| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-5);
    }
  });
});
