import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import { expectInvalid, expectRoundTrip, expectTrajectory } from './helpers.js';

const seq = (...gs: number[]) => (_w: number[], step: number) => [gs[step - 1]];

describe('rmsprop', () => {
  it('S=βS+(1−β)g², W −= αg/(sqrt(S)+ε), ε outside the root', () => {
    // β=0.75, lr 0.1, ε=1 (large on purpose: inside the root it would give sqrt(2), not 2), w0=1
    // step 1: g=2,  S=0.25·4=1,          d=1+1=2, W=1−0.1·2/2=0.9
    // step 2: g=−1, S=0.75·1+0.25·1=1,   d=2,     W=0.9+0.05=0.95
    // step 3: g=1,  S=1,                 d=2,     W=0.95−0.05=0.9
    expectTrajectory({ type: 'rmsprop', beta: 0.75, learningRate: 0.1, epsilon: 1 }, [1], seq(2, -1, 1), [[0.9], [0.95], [0.9]]);
  });

  it('defaults lr 0.01, β 0.9, ε 1e-8', () => {
    // g=3: S=0.1·9=0.9, step = 0.01·3/(sqrt(0.9)+1e-8) = 0.01·sqrt(10)/(1 + 1e-8/sqrt(0.9))
    expectTrajectory({ type: 'rmsprop' }, [1], seq(3), [[1 - (0.01 * Math.sqrt(10)) / (1 + 1e-8 / Math.sqrt(0.9))]]);
  });

  it('a zero gradient on the first step leaves W unchanged (the ε the notes omit)', () => {
    const opt = createOptimizer({ type: 'rmsprop' });
    for (const Ctor of [Float64Array, Float32Array]) {
      const w = Ctor.from([1.5, -2]);
      createOptimizer({ type: 'rmsprop' }).step([w], [new Ctor(2)]);
      expect(Array.from(w)).toEqual([1.5, -2]);
    }
    expect(opt.steps).toBe(0);
  });

  it('momentum: b = μb + g/d, W −= αb', () => {
    // μ=0.5, β=0.75, ε=1, lr 0.1, w0=1, d=2 at each step (S stays 1 as above)
    // step 1: g=2,  q=1,    b=1,          W=0.9
    // step 2: g=−1, q=−0.5, b=0.5−0.5=0,  W=0.9
    // step 3: g=1,  q=0.5,  b=0.5,        W=0.9−0.05=0.85
    expectTrajectory({ type: 'rmsprop', beta: 0.75, momentum: 0.5, learningRate: 0.1, epsilon: 1 }, [1], seq(2, -1, 1), [[0.9], [0.9], [0.85]]);
  });

  it('centered: d = sqrt(S − ḡ²) + ε (PyTorch)', () => {
    // β=0.5, ε=1, lr 0.1, w0=1
    // step 1: g=2,   S=0.5·4=2,           ḡ=1,            S−ḡ²=1,      d=2,    W=1−0.1·2/2=0.9
    // step 2: g=0.5, S=1+0.5·0.25=1.125,  ḡ=0.5+0.25=0.75, S−ḡ²=0.5625, d=1.75, W=0.9−0.05/1.75=0.9−1/35=61/70
    expectTrajectory({ type: 'rmsprop', beta: 0.5, centered: true, learningRate: 0.1, epsilon: 1 }, [1], seq(2, 0.5), [[0.9], [61 / 70]]);
  });

  it('centered with momentum', () => {
    // as above with μ=0.5: step 1 q=2/2=1, b=1, W=0.9
    // step 2: q=0.5/1.75=2/7, b=0.5+2/7=11/14, W=0.9−0.1·11/14=0.9−11/140=115/140=23/28
    expectTrajectory({ type: 'rmsprop', beta: 0.5, centered: true, momentum: 0.5, learningRate: 0.1, epsilon: 1 }, [1], seq(2, 0.5), [[0.9], [23 / 28]]);
  });

  it('state()/load() round trip continues identically', () => {
    expectRoundTrip({ type: 'rmsprop', learningRate: 0.01 });
    expectRoundTrip({ type: 'rmsprop', learningRate: 0.01, momentum: 0.9, centered: true, weightDecay: 0.01 });
  });

  it('rejects a state with missing slots', () => {
    const a = createOptimizer({ type: 'rmsprop', centered: true });
    a.step([new Float64Array([1])], [new Float64Array([1])]);
    const plain = createOptimizer({ type: 'rmsprop' });
    plain.step([new Float64Array([1])], [new Float64Array([1])]);
    expect(() => a.load(plain.state())).toThrow(/lacks slots gAvg/);
  });

  it('rejects invalid hyper-parameters with the field path', () => {
    expectInvalid({ type: 'rmsprop', beta: 1 }, 'optimizer.beta');
    expectInvalid({ type: 'rmsprop', epsilon: 0 }, 'optimizer.epsilon');
    expectInvalid({ type: 'rmsprop', momentum: 1.2 }, 'optimizer.momentum');
    expectInvalid({ type: 'rmsprop', centered: 1 as unknown as boolean }, 'optimizer.centered');
    expectInvalid({ type: 'rmsprop', learningRate: -0.01 }, 'optimizer.learningRate');
  });
});
