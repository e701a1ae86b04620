import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import { expectInvalid, expectRoundTrip, expectTrajectory, square } from './helpers.js';

describe('sgd', () => {
  it('f(x)=x², lr 0.1 from 4: 3.2, 2.56, 2.048 (x ← x − 0.1·2x = 0.8x)', () => {
    expectTrajectory({ type: 'sgd', learningRate: 0.1 }, [4], square, [[3.2], [2.56], [2.048]]);
  });

  it('L2 weight decay adds λW to the gradient', () => {
    // constant g = 1, λ = 0.5, lr 0.1, w0 = 2:
    // step 1: g' = 1 + 0.5·2 = 2     → w = 2 − 0.2 = 1.8
    // step 2: g' = 1 + 0.5·1.8 = 1.9 → w = 1.8 − 0.19 = 1.61
    expectTrajectory({ type: 'sgd', learningRate: 0.1, weightDecay: 0.5 }, [2], () => [1], [[1.8], [1.61]]);
  });

  it('uses the default lr 0.01 and accepts a per-step lr override', () => {
    const opt = createOptimizer({ type: 'sgd' });
    expect(opt.learningRate).toBe(0.01);
    const w = new Float64Array([1]);
    opt.step([w], [new Float64Array([2])]);
    expect(w[0]).toBeCloseTo(0.98, 15);
    opt.step([w], [new Float64Array([2])], 0.5);
    expect(w[0]).toBeCloseTo(-0.02, 15);
  });

  it('rejects mismatched tensors', () => {
    const opt = createOptimizer({ type: 'sgd' });
    expect(() => opt.step([new Float64Array(2)], [new Float64Array(3)])).toThrow(RangeError);
    expect(() => opt.step([new Float64Array(2)], [])).toThrow(RangeError);
  });

  it('state()/load() round trip continues identically', () => expectRoundTrip({ type: 'sgd', learningRate: 0.05, weightDecay: 0.1 }));

  it('rejects invalid hyper-parameters with the field path', () => {
    expectInvalid({ type: 'sgd', learningRate: 0 }, 'optimizer.learningRate');
    expectInvalid({ type: 'sgd', learningRate: -1 }, 'optimizer.learningRate');
    expectInvalid({ type: 'sgd', learningRate: Number.NaN }, 'optimizer.learningRate');
    expectInvalid({ type: 'sgd', weightDecay: -0.1 }, 'optimizer.weightDecay');
  });
});
