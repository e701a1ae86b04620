import type { Buf, DType } from '../types.js';
import type { Kernels } from './types.js';

/*
 * Reference TypeScript kernels. Loops run in i-k-j (or dot-product) order so the innermost loop
 * walks contiguous memory, and they are unrolled by 4 over the reduction dimension so each pass
 * over a row of C carries four multiply-adds (a register tile of 4 scalars of A).
 */

/** C(m×n) = A(m×k)·B(k×n) (+ C when `acc`). */
export function gemmNN(m: number, n: number, k: number, A: Buf, B: Buf, C: Buf, acc: boolean): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    if (!acc) C.fill(0, ci, ci + n);
    const ai = i * k;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const a0 = A[ai + p], a1 = A[ai + p + 1], a2 = A[ai + p + 2], a3 = A[ai + p + 3];
      // ReLU activations are often 0: skipping a whole zero tile is exact and cheap.
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        C[ci + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
      }
    }
    for (; p < k; p++) {
      const a = A[ai + p];
      if (a === 0) continue;
      const b0 = p * n;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[b0 + j];
    }
  }
}

/** C(m×n) = Aᵀ·B with A stored k×m and B stored k×n (+ C when `acc`). */
export function gemmTN(m: number, n: number, k: number, A: Buf, B: Buf, C: Buf, acc: boolean): void {
  if (!acc) C.fill(0, 0, m * n);
  let p = 0;
  for (; p + 3 < k; p += 4) {
    const r0 = p * m, r1 = r0 + m, r2 = r1 + m, r3 = r2 + m;
    const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
    for (let i = 0; i < m; i++) {
      const a0 = A[r0 + i], a1 = A[r1 + i], a2 = A[r2 + i], a3 = A[r3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const ci = i * n;
      for (let j = 0; j < n; j++) {
        C[ci + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
      }
    }
  }
  for (; p < k; p++) {
    const r0 = p * m, b0 = p * n;
    for (let i = 0; i < m; i++) {
      const a = A[r0 + i];
      if (a === 0) continue;
      const ci = i * n;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[b0 + j];
    }
  }
}

/** C(m×n) = A·Bᵀ with A stored m×k and B stored n×k (+ C when `acc`). */
export function gemmNT(m: number, n: number, k: number, A: Buf, B: Buf, C: Buf, acc: boolean): void {
  for (let i = 0; i < m; i++) {
    const ai = i * k, ci = i * n;
    let j = 0;
    // Four dot products at once share each load of A's row.
    for (; j + 3 < n; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        const a = A[ai + p];
        s0 += a * B[b0 + p];
        s1 += a * B[b1 + p];
        s2 += a * B[b2 + p];
        s3 += a * B[b3 + p];
      }
      if (acc) {
        C[ci + j] += s0; C[ci + j + 1] += s1; C[ci + j + 2] += s2; C[ci + j + 3] += s3;
      } else {
        C[ci + j] = s0; C[ci + j + 1] = s1; C[ci + j + 2] = s2; C[ci + j + 3] = s3;
      }
    }
    for (; j < n; j++) {
      const b0 = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[ai + p] * B[b0 + p];
      if (acc) C[ci + j] += s;
      else C[ci + j] = s;
    }
  }
}

const f32: Kernels<Float32Array> = {
  name: 'js-f32',
  alloc: (n) => new Float32Array(n),
  adopt: (x) => x instanceof Float32Array,
  gemmNN,
  gemmTN,
  gemmNT,
};

const f64: Kernels<Float64Array> = {
  name: 'js-f64',
  alloc: (n) => new Float64Array(n),
  adopt: (x) => x instanceof Float64Array,
  gemmNN,
  gemmTN,
  gemmNT,
};

/** The TypeScript reference kernels for a dtype. */
export function jsKernels(dtype: DType): Kernels<Buf> {
  return (dtype === 'float64' ? f64 : f32) as Kernels<Buf>;
}
