import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import { expectClose, expectInvalid, expectRoundTrip, expectTrajectory, trajectory } from './helpers.js';

const seq = (...gs: number[]) => (_w: number[], step: number) => [gs[step - 1]];

describe('adamw', () => {
  it('decoupled decay W ← W(1−αλ) then the Adam step on the raw gradient', () => {
    // λ=0.5, lr 0.1 → shrink 0.95; Adam steps as in adam.test.ts (β1=0.5, β2=0.75, ε=0.5, g=2,2,−2): −0.08, −0.08, +0.08/7
    // step 1: 1·0.95 − 0.08       = 0.87
    // step 2: 0.87·0.95 − 0.08    = 0.7465
    // step 3: 0.7465·0.95 + 0.08/7 = 0.709175 + 0.08/7
    expectTrajectory({ type: 'adamw', beta1: 0.5, beta2: 0.75, epsilon: 0.5, learningRate: 0.1, weightDecay: 0.5 }, [1], seq(2, 2, -2), [
      [0.87],
      [0.7465],
      [0.709175 + 0.08 / 7],
    ]);
  });

  it('default λ 0.01: a zero gradient only decays, W ← W(1 − 0.001·0.01)', () => {
    // m = v = 0 → Adam step 0/(0+ε) = 0; shrink = 1 − 1e-5
    expectTrajectory({ type: 'adamw' }, [1, -2], () => [0, 0], [
      [0.99999, -1.99998],
      [0.99999 * 0.99999, -2 * 0.99999 * 0.99999],
    ]);
  });

  it('with weightDecay 0 it is Adam', () => {
    const spec = { beta1: 0.5, beta2: 0.75, epsilon: 0.5, learningRate: 0.1, weightDecay: 0 };
    const g = seq(2, 2, -2);
    expectClose(trajectory({ type: 'adamw', ...spec }, [1], g, 3), trajectory({ type: 'adam', ...spec }, [1], g, 3), 0);
    // and differs from Adam's L2 form when λ > 0 (moments see λW there, not here)
    const l2 = trajectory({ type: 'adam', ...spec, weightDecay: 0.5 }, [1], g, 1)[0][0];
    const decoupled = trajectory({ type: 'adamw', ...spec, weightDecay: 0.5 }, [1], g, 1)[0][0];
    expect(Math.abs(l2 - decoupled)).toBeGreaterThan(0.01);
  });

  it('state()/load() round trip continues identically', () => {
    expectRoundTrip({ type: 'adamw', learningRate: 0.01, weightDecay: 0.1 });
    const opt = createOptimizer({ type: 'adamw' });
    expect(() => createOptimizer({ type: 'adam' }).load(opt.state())).toThrow(/adam optimizer/);
  });

  it('rejects invalid hyper-parameters with the field path', () => {
    expectInvalid({ type: 'adamw', weightDecay: -0.01 }, 'optimizer.weightDecay');
    expectInvalid({ type: 'adamw', beta1: 1.0 }, 'optimizer.beta1');
    expectInvalid({ type: 'adamw', epsilon: 0 }, 'optimizer.epsilon');
  });
});
