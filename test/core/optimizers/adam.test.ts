import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
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
});
