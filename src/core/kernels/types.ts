import type { Activation, Buf } from '../types.js';

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
  /**
   * Optional: makes `x` (not from `alloc`) usable by every kernel without a copy, for
   * `TrainOptions.consumeData`; false when this backend cannot address it.
   */
  adopt?(x: T): boolean;

  // Optional fused ops (a backend without them leaves the caller's own loops in charge). Each
  // accepts any buffer of its dtype; a `boolean` result of false means "not handled, run yours".

  /** Z(m×n) += b on every row, then A = act(Z). Handles `relu` and `linear`. */
  biasActivation?(act: Activation, m: number, n: number, Z: T, b: T, A: T): boolean;
  /** D ⊙= act'(Z) over n elements (dL/dA → dL/dZ). Handles `relu` and `linear`. */
  activationBackward?(act: Activation, n: number, Z: T, A: T, D: T): boolean;
  /** db(n) = Σ over the m rows of D(m×n) (bias gradient). */
  columnSums?(m: number, n: number, D: T, db: T): void;
  /** Σ x² (float64 accumulation); non-finite when any element is. */
  sumSquares?(x: T): number;
  /** Σ x (float64 accumulation); non-finite when any element is. */
  sum?(x: T): number;
  /** One Adam/AdamW update of a tensor: see optimizers/adam.ts for the formula. */
  adamUpdate?(w: T, g: T, m: T, v: T, c: AdamCoefficients): boolean;
  /** One momentum update (classic, ema via `gain`, Nesterov): see optimizers/momentum.ts. */
  momentumUpdate?(w: T, g: T, v: T, mu: number, gain: number, weightDecay: number, lr: number, nesterov: boolean): boolean;
  /** Index buffer for `gatherRows` (zeroed), placed where the backend can read it. */
  allocIndex?(n: number): Uint32Array;
  /** Row r of dst (width f) = row idx[from + r] of src, for r < m. */
  gatherRows?(m: number, f: number, src: T, idx: Uint32Array, from: number, dst: T): boolean;
}

/** The per-step constants of an Adam update: `w = w·shrink − (lr·(m/c1)) / (sqrt(v/c2) + eps)` with `g + l2·w`. */
export interface AdamCoefficients {
  beta1: number;
  beta2: number;
  epsilon: number;
  lr: number;
  /** 1 − β1^t */
  c1: number;
  /** 1 − β2^t */
  c2: number;
  /** L2 coefficient added to the gradient (Adam's weightDecay; 0 for AdamW). */
  l2: number;
  /** 1 − lr·λ (AdamW's decoupled decay; 1 for Adam). */
  shrink: number;
}
