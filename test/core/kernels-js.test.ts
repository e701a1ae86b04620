import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels/js.js';
import { createRng } from '../../src/core/rng.js';
import type { Buf } from '../../src/core/types.js';

function rand(n: number, seed: number, zeros = 0): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => (rng.next() < zeros ? 0 : rng.normal()));
}

/** Naive triple loop on plain numbers: C[i][j] = Σ_p a(i,p)·b(p,j). */
function naive(m: number, n: number, k: number, a: (i: number, p: number) => number, b: (p: number, j: number) => number): number[] {
  const c: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a(i, p) * b(p, j);
    c.push(s);
  }
  return c;
}

const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [4, 4, 4], [9, 6, 13], [17, 3, 8], [2, 33, 5]];

for (const dtype of ['float32', 'float64'] as const) {
  const k = jsKernels(dtype);
  const tol = dtype === 'float64' ? 1e-12 : 1e-5;
  const buf = (v: number[]): Buf => {
    const b = k.alloc(v.length);
    b.set(v);
    return b;
  };
  describe(`js kernels ${dtype}`, () => {
    it('alloc gives a zeroed buffer of the dtype', () => {
      const b = k.alloc(5);
      expect(b).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
      expect(Array.from(b)).toEqual([0, 0, 0, 0, 0]);
    });
    for (const [m, n, kk] of shapes) {
      it(`gemmNN/TN/NT ${m}×${n}×${kk} match the naive product, with and without accumulate`, () => {
        for (const zeros of [0, 0.5]) {
          const A = rand(m * kk, m + n + kk, zeros), B = rand(kk * n, 7 * m + kk, zeros), C0 = rand(m * n, 99);
          const round = (x: number) => (dtype === 'float32' ? Math.fround(x) : x);
          const Af = A.map(round), Bf = B.map(round);
          const wantF = naive(m, n, kk, (i, p) => Af[i * kk + p], (p, j) => Bf[p * n + j]);
          const check = (got: Buf, expected: number[], plus?: number[]) => {
            expected.forEach((e, i) => expect(got[i]).toBeCloseTo(e + (plus ? round(plus[i]) : 0), dtype === 'float64' ? 10 : 4));
            expect(Math.max(...expected.map((e, i) => Math.abs(got[i] - e - (plus ? round(plus[i]) : 0)) / Math.max(1, Math.abs(e))))).toBeLessThan(tol);
          };
          // NN
          let C = buf(C0);
          k.gemmNN(m, n, kk, buf(A), buf(B), C, false);
          check(C, wantF);
          C = buf(C0);
          k.gemmNN(m, n, kk, buf(A), buf(B), C, true);
          check(C, wantF, C0);
          // TN: A stored k×m (the transpose of Af)
          const At: number[] = [];
          for (let p = 0; p < kk; p++) for (let i = 0; i < m; i++) At.push(A[i * kk + p]);
          C = buf(C0);
          k.gemmTN(m, n, kk, buf(At), buf(B), C, false);
          check(C, wantF);
          C = buf(C0);
          k.gemmTN(m, n, kk, buf(At), buf(B), C, true);
          check(C, wantF, C0);
          // NT: B stored n×k
          const Bt: number[] = [];
          for (let j = 0; j < n; j++) for (let p = 0; p < kk; p++) Bt.push(B[p * n + j]);
          C = buf(C0);
          k.gemmNT(m, n, kk, buf(A), buf(Bt), C, false);
          check(C, wantF);
          C = buf(C0);
          k.gemmNT(m, n, kk, buf(A), buf(Bt), C, true);
          check(C, wantF, C0);
        }
      });
    }
    it('uses only the first m·n elements of larger buffers (partial batches)', () => {
      const C = k.alloc(20).fill(7);
      k.gemmNN(2, 2, 1, buf([1, 2]), buf([3, 4]), C, false);
      expect(Array.from(C.subarray(0, 4))).toEqual([3, 4, 6, 8]);
      expect(C[4]).toBe(7);
    });
  });
}
