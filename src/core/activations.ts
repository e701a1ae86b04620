import type { Activation, Buf } from './types.js';

/** Slope of `leaky_relu` for negative inputs (PyTorch's default; Keras uses 0.3). */
export const LEAKY_SLOPE = 0.01;

/** Numerically stable logistic function: never evaluates exp of a large positive number. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * A = act(Z) on the first `rows`×`cols` elements. `softmax` is applied per row with the max
 * subtracted first so exp never overflows.
 */
export function activate(act: Activation, Z: Buf, A: Buf, rows: number, cols: number): void {
  const n = rows * cols;
  switch (act) {
    case 'relu':
      for (let i = 0; i < n; i++) A[i] = Z[i] > 0 ? Z[i] : 0;
      return;
    case 'leaky_relu':
      for (let i = 0; i < n; i++) A[i] = Z[i] > 0 ? Z[i] : LEAKY_SLOPE * Z[i];
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) A[i] = Math.tanh(Z[i]);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) A[i] = sigmoid(Z[i]);
      return;
    case 'linear':
      for (let i = 0; i < n; i++) A[i] = Z[i];
      return;
    case 'softmax':
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let max = -Infinity;
        for (let j = 0; j < cols; j++) if (Z[o + j] > max) max = Z[o + j];
        let sum = 0;
        for (let j = 0; j < cols; j++) sum += Math.exp(Z[o + j] - max);
        const lse = max + Math.log(sum);
        for (let j = 0; j < cols; j++) A[o + j] = Math.exp(Z[o + j] - lse);
      }
      return;
  }
}

/**
 * D ← D ⊙ act'(Z) in place, turning dL/dA into dL/dZ. Uses A where that is cheaper (tanh,
 * sigmoid). For `softmax` it applies the full Jacobian per row: dZ = A ⊙ (dA − Σ dA·A).
 */
export function backpropActivation(act: Activation, Z: Buf, A: Buf, D: Buf, rows: number, cols: number): void {
  const n = rows * cols;
  switch (act) {
    case 'relu':
      for (let i = 0; i < n; i++) if (!(Z[i] > 0)) D[i] = 0;
      return;
    case 'leaky_relu':
      for (let i = 0; i < n; i++) if (!(Z[i] > 0)) D[i] *= LEAKY_SLOPE;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) D[i] *= 1 - A[i] * A[i];
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) D[i] *= A[i] * (1 - A[i]);
      return;
    case 'linear':
      return;
    case 'softmax':
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += D[o + j] * A[o + j];
        for (let j = 0; j < cols; j++) D[o + j] = A[o + j] * (D[o + j] - dot);
      }
      return;
  }
}
