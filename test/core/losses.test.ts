import { describe, expect, it } from 'vitest';
import { activate, backpropActivation, LEAKY_SLOPE, sigmoid } from '../../src/core/activations.js';
import { jsKernels } from '../../src/core/kernels/js.js';
import { countCorrect, lossAndGradient } from '../../src/core/losses.js';
import { Network } from '../../src/core/network.js';
import type { Activation } from '../../src/core/types.js';

/**
 * A fixed 2→2 layer: W = [[1, −1], [0.5, 2]] (fanIn × units), b = [0.1, −0.2],
 * X = [[1, 2], [−1, 0.5]]. By hand, Z = X·W + b = [[2.1, 2.8], [−0.65, 1.8]].
 */
function tinyNet(activation: Activation, targets: number[], targetWidth: number): Network {
  const net = new Network(jsKernels('float64'), 2, [{ units: 2, activation }], 2, targetWidth);
  net.W[0].set([1, -1, 0.5, 2]);
  net.b[0].set([0.1, -0.2]);
  net.X.set([1, 2, -1, 0.5]);
  net.T.set(targets);
  net.forward(2);
  return net;
}

describe('losses on a hand-computed tiny net', () => {
  it('forward gives Z = X·W + b', () => {
    const net = tinyNet('linear', [0, 0, 0, 0], 2);
    Array.from(net.Z[0]).forEach((z, i) => expect(z).toBeCloseTo([2.1, 2.8, -0.65, 1.8][i], 14));
  });

  it('softmax cross-entropy: mean of logsumexp(z) − z_y, gradient (p − y)/B', () => {
    const net = tinyNet('softmax', [1, 0], 1);
    const loss = net.loss('softmax_cross_entropy', 2, true) / 2;
    // row 0 (class 1): log(e^2.1 + e^2.8) − 2.8 = log(1 + e^−0.7); row 1 (class 0): log(1 + e^2.45)
    expect(loss).toBeCloseTo((Math.log(1 + Math.exp(-0.7)) + Math.log(1 + Math.exp(2.45))) / 2, 14);
    // p(row 0) = [1/(1+e^0.7), e^0.7/(1+e^0.7)], class 1; p(row 1) = [1/(1+e^2.45), …], class 0
    const p0 = 1 / (1 + Math.exp(0.7)), q0 = 1 / (1 + Math.exp(2.45));
    const want = [p0 / 2, (1 - p0 - 1) / 2, (q0 - 1) / 2, (1 - q0) / 2];
    Array.from(net.D[0]).forEach((d, i) => expect(d).toBeCloseTo(want[i], 14));
  });

  it('binary cross-entropy from logits: mean over rows and outputs, gradient (σ(z) − y)/(B·K)', () => {
    const net = tinyNet('sigmoid', [1, 0, 0, 1], 2);
    const loss = net.loss('binary_cross_entropy', 2, true) / 2;
    // −log σ(z) = log(1+e^−z) for y = 1, −log(1−σ(z)) = log(1+e^z) for y = 0
    const want = (Math.log(1 + Math.exp(-2.1)) + Math.log(1 + Math.exp(2.8)) + Math.log(1 + Math.exp(-0.65)) + Math.log(1 + Math.exp(-1.8))) / 4;
    expect(loss).toBeCloseTo(want, 14);
    const z = [2.1, 2.8, -0.65, 1.8], y = [1, 0, 0, 1];
    Array.from(net.D[0]).forEach((d, i) => expect(d).toBeCloseTo((1 / (1 + Math.exp(-z[i])) - y[i]) / 4, 14));
  });

  it('binary cross-entropy is finite for saturated logits', () => {
    const Z = new Float64Array([1000, -1000]), A = new Float64Array([sigmoid(1000), sigmoid(-1000)]);
    const total = lossAndGradient('binary_cross_entropy', 'sigmoid', Z, A, new Float64Array([0, 1]), 2, 1, null);
    expect(total).toBe(2000);
  });

  it('softmax cross-entropy is finite for huge logits', () => {
    const Z = new Float64Array([1000, 0, -1000]), A = new Float64Array(3);
    activate('softmax', Z, A, 1, 3);
    expect(Array.from(A)).toEqual([1, 0, 0]);
    expect(lossAndGradient('softmax_cross_entropy', 'softmax', Z, A, new Float64Array([1]), 1, 3, null)).toBe(1000);
  });

  it('mse: mean over rows and outputs of (a − y)², gradient 2(a − y)/(B·K) through the activation', () => {
    const net = tinyNet('linear', [2, 3, 0, 1], 2);
    const loss = net.loss('mse', 2, true) / 2;
    // errors 0.1, −0.2, −0.65, 0.8
    expect(loss).toBeCloseTo((0.01 + 0.04 + 0.4225 + 0.64) / 4, 14);
    [0.1, -0.2, -0.65, 0.8].forEach((e, i) => expect(net.D[0][i]).toBeCloseTo((2 * e) / 4, 14));
    const tanhNet = tinyNet('tanh', [0, 0, 0, 0], 2);
    tanhNet.loss('mse', 2, true);
    [2.1, 2.8, -0.65, 1.8].forEach((z, i) => expect(tanhNet.D[0][i]).toBeCloseTo(((2 * Math.tanh(z)) / 4) * (1 - Math.tanh(z) ** 2), 14));
  });

  it('backward gives dW = Xᵀ·dZ and db = Σ rows of dZ', () => {
    const net = tinyNet('linear', [2, 3, 0, 1], 2);
    net.loss('mse', 2, true);
    net.backward(2);
    const d = [0.05, -0.1, -0.325, 0.4]; // 2e/4
    const X = [1, 2, -1, 0.5];
    const dW = [X[0] * d[0] + X[2] * d[2], X[0] * d[1] + X[2] * d[3], X[1] * d[0] + X[3] * d[2], X[1] * d[1] + X[3] * d[3]];
    Array.from(net.dW[0]).forEach((g, i) => expect(g).toBeCloseTo(dW[i], 14));
    expect(net.db[0][0]).toBeCloseTo(d[0] + d[2], 14);
    expect(net.db[0][1]).toBeCloseTo(d[1] + d[3], 14);
  });

  it('activation derivatives: relu, leaky_relu, sigmoid, softmax Jacobian', () => {
    const Z = new Float64Array([-2, 3]), A = new Float64Array(2), D = new Float64Array([1, 1]);
    activate('leaky_relu', Z, A, 1, 2);
    expect(Array.from(A)).toEqual([-2 * LEAKY_SLOPE, 3]);
    backpropActivation('leaky_relu', Z, A, D, 1, 2);
    expect(Array.from(D)).toEqual([LEAKY_SLOPE, 1]);
    D.set([1, 1]);
    activate('relu', Z, A, 1, 2);
    backpropActivation('relu', Z, A, D, 1, 2);
    expect(Array.from(D)).toEqual([0, 1]);
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(-800)).toBe(0);
    // softmax of [0, ln 3] is [1/4, 3/4]; with dA = [1, 0]: dZ = a ⊙ (dA − a·dA) = [1/4·3/4, −3/4·1/4]
    const Zs = new Float64Array([0, Math.log(3)]), As = new Float64Array(2), Ds = new Float64Array([1, 0]);
    activate('softmax', Zs, As, 1, 2);
    backpropActivation('softmax', Zs, As, Ds, 1, 2);
    expect(Ds[0]).toBeCloseTo(3 / 16, 15);
    expect(Ds[1]).toBeCloseTo(-3 / 16, 15);
  });

  it('counts correct predictions: argmax for classes, 0.5 threshold per output for binary', () => {
    expect(countCorrect('classification', new Float64Array([0.1, 0.9, 0.7, 0.3]), new Float64Array([1, 1]), 2, 2)).toBe(1);
    expect(countCorrect('binary', new Float64Array([0.6, 0.4, 0.5]), new Float64Array([1, 1, 1]), 3, 1)).toBe(2);
  });
});
