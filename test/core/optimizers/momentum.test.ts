import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import { expectInvalid, expectRoundTrip, expectTrajectory, square } from './helpers.js';

describe('momentum', () => {
  it('classic μ=0.5, lr 0.1 on f(x)=x² from [1, 2]', () => {
    // step 1: g=[2,4],     v=[2,4],                         W=[1−0.2, 2−0.4]     = [0.8, 1.6]
    // step 2: g=[1.6,3.2], v=0.5·[2,4]+[1.6,3.2]=[2.6,5.2], W=[0.8−0.26,1.6−0.52]=[0.54, 1.08]
    // step 3: g=[1.08,2.16], v=[1.3+1.08, 2.6+2.16]=[2.38,4.76], W=[0.54−0.238, 1.08−0.476]=[0.302, 0.604]
    expectTrajectory({ type: 'momentum', variant: 'classic', momentum: 0.5, learningRate: 0.1 }, [1, 2], square, [
      [0.8, 1.6],
      [0.54, 1.08],
      [0.302, 0.604],
    ]);
  });

  it('classic is the default variant, μ defaults to 0.9', () => {
    // v=2 → W = 1 − 0.1·2 = 0.8; then g=1.6, v=0.9·2+1.6=3.4 → W = 0.8 − 0.34 = 0.46
    expectTrajectory({ type: 'momentum', learningRate: 0.1 }, [1], square, [[0.8], [0.46]]);
  });

  it('classic Nesterov (PyTorch): v=μv+g, W −= α(g + μv)', () => {
    // μ=0.5, lr 0.1, f=x², x0=1
    // step 1: g=2,    v=2,          g'=2+1=3,        W=1−0.3=0.7
    // step 2: g=1.4,  v=1+1.4=2.4,  g'=1.4+1.2=2.6,  W=0.7−0.26=0.44
    // step 3: g=0.88, v=1.2+0.88=2.08, g'=0.88+1.04=1.92, W=0.44−0.192=0.248
    expectTrajectory({ type: 'momentum', momentum: 0.5, nesterov: true, learningRate: 0.1 }, [1], square, [[0.7], [0.44], [0.248]]);
  });

  it('EMA (the notes): v=βv+(1−β)g, W −= αv', () => {
    // β=0.5, lr 0.1, f=x², x0=1
    // step 1: g=2,    v=0+1=1,         W=1−0.1=0.9
    // step 2: g=1.8,  v=0.5+0.9=1.4,   W=0.9−0.14=0.76
    // step 3: g=1.52, v=0.7+0.76=1.46, W=0.76−0.146=0.614
    expectTrajectory({ type: 'momentum', variant: 'ema', beta: 0.5, learningRate: 0.1 }, [1], square, [[0.9], [0.76], [0.614]]);
  });

  it('EMA Nesterov: W −= α(βv_new + (1−β)g)', () => {
    // β=0.5, lr 0.1, f=x², x0=1
    // step 1: g=2,   v=1,          g'=0.5+1=1.5,       W=1−0.15=0.85
    // step 2: g=1.7, v=0.5+0.85=1.35, g'=0.675+0.85=1.525, W=0.85−0.1525=0.6975
    expectTrajectory({ type: 'momentum', variant: 'ema', beta: 0.5, nesterov: true, learningRate: 0.1 }, [1], square, [[0.85], [0.6975]]);
  });

  it('EMA takes momentum as β when beta is absent, and steps (1−β) times the classic ones', () => {
    const viaMomentum = createOptimizer({ type: 'momentum', variant: 'ema', momentum: 0.5, learningRate: 0.1 });
    const w = new Float64Array([1]);
    viaMomentum.step([w], [new Float64Array([2])]);
    expect(w[0]).toBeCloseTo(0.9, 15); // (1−0.5)·(classic step 0.2)
  });

  it('L2 weight decay enters the velocity', () => {
    // classic μ=0.5, lr 0.1, λ=1, constant g=0, w0=1: g' = w
    // step 1: g'=1,   v=1,            W=0.9
    // step 2: g'=0.9, v=0.5+0.9=1.4,  W=0.9−0.14=0.76
    expectTrajectory({ type: 'momentum', momentum: 0.5, learningRate: 0.1, weightDecay: 1 }, [1], () => [0], [[0.9], [0.76]]);
  });

  it('state()/load() round trip continues identically', () => {
    expectRoundTrip({ type: 'momentum', learningRate: 0.05 });
    expectRoundTrip({ type: 'momentum', variant: 'ema', nesterov: true, learningRate: 0.05 });
  });

  it('rejects invalid hyper-parameters with the field path', () => {
    expectInvalid({ type: 'momentum', momentum: 1 }, 'optimizer.momentum');
    expectInvalid({ type: 'momentum', momentum: -0.1 }, 'optimizer.momentum');
    expectInvalid({ type: 'momentum', variant: 'ema', beta: 1.5 }, 'optimizer.beta');
    expectInvalid({ type: 'momentum', variant: 'heavy' as 'ema' }, 'optimizer.variant');
    expectInvalid({ type: 'momentum', nesterov: 'yes' as unknown as boolean }, 'optimizer.nesterov');
    expectInvalid({ type: 'momentum', learningRate: 0 }, 'optimizer.learningRate');
  });
});
