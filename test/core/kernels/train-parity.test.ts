import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { train } from '../../../src/core/train.js';
import { getKernels } from '../../../src/core/kernels/index.js';
import { wasmAvailable } from '../../../src/core/kernels/wasm/wasm-kernels.js';
import type { DataSet, TrainingSpec } from '../../../src/core/types.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

/** Seeded features in [−1, 1) with a nonlinear rule for the targets. */
function dataset(rows: number, features: number, task: 'class' | 'reg'): DataSet {
  let a = 12345;
  const u = (): number => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a / 2 ** 31 - 1;
  };
  const x = new Float32Array(rows * features), y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let f = 0; f < features; f++) {
      const v = u();
      x[r * features + f] = v;
      s += Math.sin(3 * v) * (f % 3 === 0 ? 1 : -0.5);
    }
    y[r] = task === 'class' ? (s > 0.4 ? 2 : s < -0.4 ? 0 : 1) : s;
  }
  return { features: x, targets: y, rows, featureCount: features, targetWidth: 1 };
}

const classification: TrainingSpec = {
  model: { layers: [{ units: 37, activation: 'relu' }, { units: 19, activation: 'relu' }, { units: 3, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 3e-3 },
  epochs: 6, batchSize: 16, seed: 7, validationSplit: 0.2, gradientCheck: false,
};
const regression: TrainingSpec = {
  model: { layers: [{ units: 24, activation: 'relu' }, { units: 24, activation: 'relu' }, { units: 1, activation: 'linear' }] },
  loss: 'mse',
  optimizer: { type: 'momentum', variant: 'classic', momentum: 0.9, learningRate: 0.01 },
  epochs: 6, batchSize: 32, seed: 3, gradientCheck: false,
};

describe.runIf(wasmAvailable())('training with wasm kernels vs the TypeScript reference', () => {
  for (const [label, spec, data] of [
    ['softmax CE + Adam', classification, dataset(400, 13, 'class')],
    ['MSE + classic momentum', regression, dataset(500, 9, 'reg')],
  ] as const) {
    it(`${label}: the same seeded run gives the same loss curve to float32 tolerance`, async () => {
      const js = await train(spec, data, { kernels: 'js' });
      const wasm = await train(spec, data, { kernels: 'wasm' });
      expect(wasm.history.length).toBe(js.history.length);
      expect(js.history.at(-1)!.loss).toBeLessThan(js.history[0].loss); // it learns
      for (let e = 0; e < js.history.length; e++) {
        expect(Math.abs(wasm.history[e].loss - js.history[e].loss)).toBeLessThanOrEqual(1e-4 * Math.abs(js.history[e].loss));
        if (js.history[e].valLoss !== undefined) {
          expect(Math.abs(wasm.history[e].valLoss! - js.history[e].valLoss!)).toBeLessThanOrEqual(1e-4 * Math.abs(js.history[e].valLoss!));
        }
        expect(Math.abs(wasm.history[e].gradNormMean - js.history[e].gradNormMean)).toBeLessThanOrEqual(1e-3 * js.history[e].gradNormMean);
      }
      if (js.accuracy !== undefined) expect(wasm.accuracy).toBeCloseTo(js.accuracy, 2);
    });
  }

  it('auto picks wasm for float32, and a run split over 2 threads gives the same weights bit for bit', async () => {
    const k = getKernels('float32', 'auto');
    expect(k.name).toMatch(/^wasm/);
    k.dispose?.();
    // 2·64·256·512 ≈ 16.8M flop per forward product of layer 1: above the split threshold
    const spec: TrainingSpec = {
      model: { layers: [{ units: 256, activation: 'relu' }, { units: 3, activation: 'softmax' }] },
      loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 2, batchSize: 64, seed: 1, gradientCheck: false,
    };
    const data = dataset(256, 512, 'class');
    const one = await train(spec, data, { threads: 1 });
    const two = await train(spec, data, { threads: 2 });
    expect(two.weightsHash).toBe(one.weightsHash);
    expect(two.history.map((h) => h.loss)).toEqual(one.history.map((h) => h.loss));
  });

  it('float64 runs on the reference whatever the preference, and auto gives the same weights as js', async () => {
    expect(getKernels('float64', 'auto').name).toBe('js-f64');
    expect(getKernels('float64', 'wasm').name).toBe('js-f64');
    const spec: TrainingSpec = { ...regression, dtype: 'float64', epochs: 2 };
    const data = dataset(120, 5, 'reg');
    const a = await train(spec, data, { kernels: 'auto' });
    const b = await train(spec, data, { kernels: 'js' });
    expect(a.weightsHash).toBe(b.weightsHash);
  });
});
