import { backpropActivation } from './activations.js';
import type { Activation, Buf, LossName, Task } from './types.js';

/** The task a loss implies: what the targets mean and what `predict` returns. */
export function taskOf(loss: LossName): Task {
  return loss === 'softmax_cross_entropy' ? 'classification' : loss === 'binary_cross_entropy' ? 'binary' : 'regression';
}

/**
 * Sum over `rows` of the per-row loss of the output layer (pre-activations Z, activations A,
 * `cols` outputs) against targets T; the batch loss is this sum / rows.
 *
 * - `softmax_cross_entropy`: T holds one class index per row; row loss = logsumexp(z) − z_y.
 * - `binary_cross_entropy`: row loss = mean over outputs of max(z,0) − z·y + log(1+exp(−|z|)),
 *   the stable form of −y·log σ(z) − (1−y)·log(1−σ(z)) computed from the logits.
 * - `mse`: row loss = mean over outputs of (a − y)² (Keras' convention).
 *
 * When `D` is given it receives dL/dZ of the batch-mean loss, with `gradRows` as the batch size:
 * the fused (p − y)/B for softmax CE, (σ(z) − y)/(B·cols) for BCE, and 2(a − y)/(B·cols)
 * through the output activation's derivative for MSE.
 */
export function lossAndGradient(
  loss: LossName,
  outAct: Activation,
  Z: Buf,
  A: Buf,
  T: Buf,
  rows: number,
  cols: number,
  D: Buf | null,
): number {
  let total = 0;
  if (loss === 'softmax_cross_entropy') {
    const inv = 1 / rows;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const y = T[r];
      let max = -Infinity;
      for (let j = 0; j < cols; j++) if (Z[o + j] > max) max = Z[o + j];
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += Math.exp(Z[o + j] - max);
      total += max + Math.log(sum) - Z[o + y];
      if (D !== null) {
        for (let j = 0; j < cols; j++) D[o + j] = A[o + j] * inv;
        D[o + y] -= inv;
      }
    }
    return total;
  }
  const n = rows * cols;
  const inv = 1 / n;
  if (loss === 'binary_cross_entropy') {
    for (let i = 0; i < n; i++) {
      const z = Z[i], y = T[i];
      total += (z > 0 ? z : 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
      if (D !== null) D[i] = (A[i] - y) * inv;
    }
    return total / cols;
  }
  for (let i = 0; i < n; i++) {
    const e = A[i] - T[i];
    total += e * e;
    if (D !== null) D[i] = 2 * e * inv;
  }
  if (D !== null) backpropActivation(outAct, Z, A, D, rows, cols);
  return total / cols;
}

/**
 * Correct predictions in a batch: rows whose argmax is the class (classification), or outputs
 * on the right side of 0.5 (binary, counted per output). Regression: 0.
 */
export function countCorrect(task: Task, A: Buf, T: Buf, rows: number, cols: number): number {
  let correct = 0;
  if (task === 'classification') {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let best = 0;
      for (let j = 1; j < cols; j++) if (A[o + j] > A[o + best]) best = j;
      if (best === T[r]) correct++;
    }
  } else if (task === 'binary') {
    const n = rows * cols;
    for (let i = 0; i < n; i++) if ((A[i] >= 0.5 ? 1 : 0) === T[i]) correct++;
  }
  return correct;
}
