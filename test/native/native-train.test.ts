import { describe, expect, it } from 'vitest';
import { train } from '../../src/core/train.js';
import type { DataSet, TrainingSpec } from '../../src/core/types.js';
import { kernelOptions, nativeIsas, nativeKernels } from '../../src/native-kernels/index.js';

/** Seeded features in [−1, 1) with a nonlinear rule for the targets (fresh arrays on every call). */
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
      const v = u() * (1 + f);
      x[r * features + f] = v;
      s += Math.sin(3 * v / (1 + f)) * (f % 3 === 0 ? 1 : -0.5);
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
  epochs: 6, batchSize: 32, seed: 3, validationSplit: 0.1, normalize: true, gradientCheck: false,
};

describe('consumeData: training on the caller\'s arrays in place', () => {
  it('gives the same weights as the copying path (split and normalization included) with the reference kernels', async () => {
    for (const [spec, task] of [[classification, 'class'], [regression, 'reg']] as const) {
      const copied = await train(spec, dataset(300, 7, task), { kernels: 'js' });
      const data = dataset(300, 7, task);
      const inPlace = await train(spec, data, { kernels: 'js', consumeData: true });
      expect(inPlace.weightsHash).toBe(copied.weightsHash);
      expect(inPlace.history).toEqual(copied.history.map((h) => ({ ...h, durationMs: expect.any(Number), samplesPerSecond: expect.any(Number) })));
      // the arrays were reordered in place (training rows first): not the caller's order any more
      expect(Array.from(data.features as Float32Array)).not.toEqual(Array.from(dataset(300, 7, task).features as Float32Array));
    }
  });

  it('leaves arrays the kernels cannot address alone (wasm copies; number[][] copies)', async () => {
    const data = dataset(200, 5, 'class');
    const before = Float32Array.from(data.features as Float32Array);
    await train(classification, data, { kernels: 'wasm', consumeData: true });
    expect(Array.from(data.features as Float32Array)).toEqual(Array.from(before));
  });
});

for (const isa of nativeIsas()) {
  describe(`training on the native ${isa} kernels`, () => {
    const factory = (threads = 1) => ({ kernelFactory: () => nativeKernels({ isa, threads }) });

    for (const [label, spec, task] of [['softmax CE + Adam', classification, 'class'], ['MSE + momentum, normalized', regression, 'reg']] as const) {
      it(`${label}: tracks the TypeScript reference to float32 tolerance, reproducibly, and says which kernels ran`, async () => {
        const js = await train(spec, dataset(400, 13, task), { kernels: 'js' });
        const a = await train(spec, dataset(400, 13, task), factory());
        const b = await train(spec, dataset(400, 13, task), factory());
        expect(a.kernels).toBe(`native-${isa}-f32`);
        expect(js.kernels).toBe('js-f32');
        expect(b.weightsHash).toBe(a.weightsHash);
        expect(js.history.at(-1)!.loss).toBeLessThan(js.history[0].loss);
        for (let e = 0; e < js.history.length; e++) {
          expect(Math.abs(a.history[e].loss - js.history[e].loss)).toBeLessThanOrEqual(1e-4 * Math.abs(js.history[e].loss));
          expect(Math.abs(a.history[e].valLoss! - js.history[e].valLoss!)).toBeLessThanOrEqual(1e-4 * Math.abs(js.history[e].valLoss!));
        }
        // in place on the caller's arrays: the same weights bit for bit
        const inPlace = await train(spec, dataset(400, 13, task), { ...factory(), consumeData: true });
        expect(inPlace.weightsHash).toBe(a.weightsHash);
      });
    }

    it('a run whose big products are split over 2 threads gives the same weights bit for bit', async () => {
      // 2·64·256·512 ≈ 16.8M flop per forward product of layer 1: above the split threshold
      const spec: TrainingSpec = {
        model: { layers: [{ units: 256, activation: 'relu' }, { units: 3, activation: 'softmax' }] },
        loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 2, batchSize: 64, seed: 1, gradientCheck: false,
      };
      const one = await train(spec, dataset(256, 512, 'class'), factory(1));
      const two = await train(spec, dataset(256, 512, 'class'), factory(2));
      nativeKernels({ isa }).setThreads(1);
      expect(two.weightsHash).toBe(one.weightsHash);
      expect(two.history.map((h) => h.loss)).toEqual(one.history.map((h) => h.loss));
    });
  });
}

describe('kernelOptions (the trainer\'s choice, TRAINING_KERNELS)', () => {
  it('auto takes the native kernels where they load, wasm/js otherwise; float64 stays on the reference', async () => {
    const auto = kernelOptions('auto');
    if (nativeIsas().length > 0) {
      expect(auto.kernelFactory).toBeDefined();
      const r = await train(classification, dataset(100, 4, 'class'), auto);
      expect(r.kernels).toBe(`native-${nativeIsas()[0]}-f32`);
    } else expect(auto).toEqual({ kernels: 'auto' });
    expect(kernelOptions('wasm')).toEqual({ kernels: 'wasm' });
    expect(kernelOptions('js')).toEqual({ kernels: 'js' });
    const f64 = await train({ ...classification, dtype: 'float64' }, dataset(100, 4, 'class'), kernelOptions('auto'));
    expect(f64.kernels).toBe('js-f64');
  });
});
