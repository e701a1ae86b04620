import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import { validateSpec, type TrainingSpec } from '../../../src/core/index.js';
import { expectInvalid, expectRoundTrip, expectTrajectory } from './helpers.js';

const seq = (...gs: number[]) => (_w: number[], step: number) => [gs[step - 1]];

describe('adam', () => {
  it('bias correction uses 1−β^t (hand-derived, β1=0.5, β2=0.75, ε=0.5, lr 0.1)', () => {
    // step 1: g=2,  m=1,    v=1;      1−β1=0.5,   1−β2=0.25     → m̂=2,    v̂=4, d=2+0.5=2.5, W=1−0.1·2/2.5=0.92
    // step 2: g=2,  m=1.5,  v=1.75;   1−β1²=0.75, 1−β2²=0.4375  → m̂=2,    v̂=4, W=0.92−0.08=0.84
    //         (with the notes' 1−β: m̂=3, v̂=7, step 0.1·3/(√7+0.5)≈0.0954, not 0.08)
    // step 3: g=−2, m=−0.25, v=2.3125; 1−β1³=0.875, 1−β2³=0.578125 → m̂=−2/7, v̂=4, W=0.84+0.1·(2/7)/2.5=0.84+0.08/7
    expectTrajectory({ type: 'adam', beta1: 0.5, beta2: 0.75, epsilon: 0.5, learningRate: 0.1 }, [1], seq(2, 2, -2), [
      [0.92],
      [0.84],
      [0.84 + 0.08 / 7],
    ]);
  });

  it('defaults lr 0.001, β1 0.9, β2 0.999, ε 1e-8: first step is α·g/(|g|+ε)', () => {
    // m̂=g, v̂=g²: step = 0.001·4/(4+1e-8) = 0.001/(1+2.5e-9), and likewise for g=−1 (sign kept)
    expectTrajectory({ type: 'adam' }, [1, 1], () => [4, -1], [[1 - 0.001 / (1 + 2.5e-9), 1 + 0.001 / (1 + 1e-8)]]);
    const opt = createOptimizer({ type: 'adam' });
    expect(opt.learningRate).toBe(0.001);
  });

  it('L2 weightDecay adds λW to the gradient (moments see it)', () => {
    // λ=0.5: step 1 raw g=1.5, W=1 → g'=2 → W=0.92; step 2 raw g=1.54 → g'=1.54+0.46=2 → W=0.84
    expectTrajectory({ type: 'adam', beta1: 0.5, beta2: 0.75, epsilon: 0.5, learningRate: 0.1, weightDecay: 0.5 }, [1], seq(1.5, 1.54), [[0.92], [0.84]]);
  });

  it('state()/load() round trip keeps the step count (bias correction continues)', () => {
    expectRoundTrip({ type: 'adam', learningRate: 0.01 });
    expectRoundTrip({ type: 'adam', learningRate: 0.01, weightDecay: 0.1 }, 1, 4);
  });

  it('rejects invalid hyper-parameters with the field path', () => {
    expectInvalid({ type: 'adam', beta1: 1 }, 'optimizer.beta1');
    expectInvalid({ type: 'adam', beta2: -0.5 }, 'optimizer.beta2');
    expectInvalid({ type: 'adam', epsilon: -1e-8 }, 'optimizer.epsilon');
    expectInvalid({ type: 'adam', learningRate: Infinity }, 'optimizer.learningRate');
    expectInvalid({ type: 'adam', weightDecay: Number.NaN }, 'optimizer.weightDecay');
  });

  describe('amsgrad', () => {
    it('divides by the running maximum of v (hand-derived, β1=0.5, β2=0.75, ε=0.5, lr 0.1, g = 2, 0, 0)', () => {
      // step 1: g=2: m=1,    v=1,      v̂max=1; 1−β1=0.5,   1−β2=0.25     → m̂=2,   sqrt(1/0.25)=2,  W=1−0.1·2/2.5=0.92
      // step 2: g=0: m=0.5,  v=0.75,   v̂max=1; 1−β1²=0.75, 1−β2²=0.4375  → m̂=2/3, sqrt(1/0.4375)=4/√7
      //         (plain Adam would use v=0.75: sqrt(0.75/0.4375)=√(12/7), a larger step)
      // step 3: g=0: m=0.25, v=0.5625, v̂max=1; 1−β1³=0.875, 1−β2³=0.578125 → m̂=2/7, sqrt(1/0.578125)=8/√37
      const w2 = 0.92 - (0.1 * (2 / 3)) / (4 / Math.sqrt(7) + 0.5);
      const w3 = w2 - (0.1 * (2 / 7)) / (8 / Math.sqrt(37) + 0.5);
      const spec = { type: 'adam', beta1: 0.5, beta2: 0.75, epsilon: 0.5, learningRate: 0.1, amsgrad: true } as const;
      expectTrajectory(spec, [1], seq(2, 0, 0), [[0.92], [w2], [w3]]);
      // and it is not Adam's step
      const plain = 0.92 - (0.1 * (2 / 3)) / (Math.sqrt(12 / 7) + 0.5);
      expect(Math.abs(w2 - plain)).toBeGreaterThan(1e-3);
    });

    it('equals Adam while v only grows (g = 2, 2, −2: v = 1, 1.75, 2.3125)', () => {
      expectTrajectory({ type: 'adam', beta1: 0.5, beta2: 0.75, epsilon: 0.5, learningRate: 0.1, amsgrad: true }, [1], seq(2, 2, -2), [[0.92], [0.84], [0.84 + 0.08 / 7]]);
    });

    it('AdamW takes it too; state()/load() keeps the maximum (a third slot)', () => {
      expectRoundTrip({ type: 'adam', learningRate: 0.01, amsgrad: true });
      expectRoundTrip({ type: 'adamw', learningRate: 0.01, amsgrad: true }, 2, 6);
      expect((createOptimizer({ type: 'adam', amsgrad: true }).state() as { slots: object }).slots).toEqual({});
    });

    it('is validated as a boolean of adam and adamw only', () => {
      expectInvalid({ type: 'adam', amsgrad: 'yes' as unknown as boolean }, 'optimizer.amsgrad');
      const spec = (optimizer: object) => ({ model: { layers: [{ units: 1, activation: 'linear' }] }, loss: 'mse', optimizer, epochs: 1, batchSize: 2 }) as unknown as TrainingSpec;
      const meta = { rows: 4, features: 1, targets: 1 };
      expect(validateSpec(spec({ type: 'adamw', amsgrad: true }), meta)).toEqual([]);
      expect(validateSpec(spec({ type: 'adam', amsgrad: 1 }), meta)).toEqual([{ path: 'optimizer.amsgrad', message: 'must be true or false, got 1' }]);
      expect(validateSpec(spec({ type: 'sgd', amsgrad: true }), meta)).toEqual([{ path: 'optimizer.amsgrad', message: 'not a parameter of sgd; sgd takes learningRate, weightDecay' }]);
    });
  });
});
