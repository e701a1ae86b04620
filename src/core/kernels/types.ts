import type { Buf } from '../types.js';

/**
 * The hot loops of training behind one interface, so a fast backend (WebAssembly SIMD) and the
 * plain TypeScript reference are interchangeable. All matrices are row-major and dense.
 *
 * Buffers the training loop works on come from `alloc`, so a backend can place them in memory
 * it addresses directly (a WebAssembly.Memory); a backend must still accept any typed array
 * (falling back to the reference loop when it cannot address it). `alloc` is called before the
 * training loop only: no allocation inside it.
 */
export interface Kernels<T extends Buf = Buf> {
  readonly name: string;
  /** Zeroed buffer of `n` elements. */
  alloc(n: number): T;
  /** C(m×n) = A(m×k)·B(k×n), plus C when `accumulate`. */
  gemmNN(m: number, n: number, k: number, A: T, B: T, C: T, accumulate: boolean): void;
  /** C(m×n) = Aᵀ·B with A stored k×m and B stored k×n (weight gradient Xᵀ·dZ). */
  gemmTN(m: number, n: number, k: number, A: T, B: T, C: T, accumulate: boolean): void;
  /** C(m×n) = A·Bᵀ with A stored m×k and B stored n×k (input gradient dZ·Wᵀ). */
  gemmNT(m: number, n: number, k: number, A: T, B: T, C: T, accumulate: boolean): void;
  /** Optional: releases the backend's memory when a training run ends (buffers from `alloc` stay readable). */
  dispose?(): void;
}
