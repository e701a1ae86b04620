import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels/js.js';
import { createOptimizer } from '../../src/core/optimizers/index.js';
import type { OptimizerSpec } from '../../src/core/types.js';
import { nativeIsas, nativeKernels, nativeUnavailableReason, NativeUnavailableError, type NativeKernels } from '../../src/native-kernels/index.js';

/*
 * The native kernels (native/*.cc) against the reference: every instruction set this CPU has
 * (AVX-512 and AVX2 on the project's machines) runs the same checks.
 */

type Variant = 'NN' | 'TN' | 'NT';

/** Float64 triple loop straight from the definitions (A, B in their stored layouts). */
function oracle(v: Variant, m: number, n: number, k: number, A: Float32Array, B: Float32Array, C0: Float32Array, acc: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = acc ? C0[i * n + j] : 0;
      for (let p = 0; p < k; p++) s += (v === 'TN' ? A[p * m + i] : A[i * k + p]) * (v === 'NT' ? B[j * k + p] : B[p * n + j]);
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Deterministic uniform(lo, hi) values (mulberry32). */
function filler(seed: number, lo = -1, hi = 1): (x: Float32Array) => Float32Array {
  let a = seed >>> 0;
  return (x) => {
    for (let i = 0; i < x.length; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      x[i] = lo + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo);
    }
    return x;
  };
}

const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 8, 1], [3, 5, 7], [4, 8, 16], [17, 33, 9], [33, 17, 65], [127, 5, 3], [5, 127, 31],
  [32, 64, 20], [32, 1, 64], [64, 1, 32], [32, 64, 1], [128, 10, 128], [9, 24, 0], [12, 40, 300], [2, 3, 1030],
  // packed paths: several KC blocks, partial MR/NR edges, more than one MC block and NC block
  [130, 70, 600], [200, 33, 257], [97, 530, 40], [128, 256, 784],
];

function run(K: NativeKernels, v: Variant, m: number, n: number, k: number, acc: boolean, seed: number): void {
  const fill = filler(seed);
  const A = fill(K.alloc(m * k)), B = fill(K.alloc(k * n)), C = fill(K.alloc(m * n));
  const want = oracle(v, m, n, k, A, B, Float32Array.from(C), acc);
  K[`gemm${v}`](m, n, k, A, B, C, acc);
  const tol = 4e-7 * (k + 2) * 2;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(C[i] - want[i]));
  expect(worst, `${v} ${m}×${n}×${k} acc=${acc}`).toBeLessThanOrEqual(tol);
}

const onLinuxX64WithCompiler =
  process.platform === 'linux' && process.arch === 'x64' && spawnSync('g++', ['--version'], { stdio: 'ignore' }).status === 0;

describe('native kernels availability', () => {
  it.runIf(onLinuxX64WithCompiler)('are built by npm ci on x86-64 Linux with a compiler, and load', () => {
    expect(nativeUnavailableReason()).toBeUndefined();
    expect(nativeIsas().length).toBeGreaterThan(0);
  });
  it('refuses an instruction set the CPU lacks with a clear error', () => {
    if (nativeIsas().length === 0) expect(() => nativeKernels()).toThrow(NativeUnavailableError);
    else if (!nativeIsas().includes('avx512')) expect(() => nativeKernels({ isa: 'avx512' })).toThrow(/cannot run avx512/);
  });
});

for (const isa of nativeIsas()) {
  describe(`native ${isa} kernels`, () => {
    for (const v of ['NN', 'TN', 'NT'] as const) {
      it(`gemm${v} matches the float64 oracle on odd shapes, accumulate on and off`, () => {
        const K = nativeKernels({ isa });
        let seed = 1;
        for (const [m, n, k] of shapes) {
          run(K, v, m, n, k, false, seed++);
          run(K, v, m, n, k, true, seed++);
        }
        expect(K.stats()).toEqual({ native: shapes.length * 2, fallback: 0 });
        K.dispose();
      });
    }

    it('exact results on small integers, and plain arrays fall back to the reference loops', () => {
      const K = nativeKernels({ isa });
      const m = 5, n = 37, k = 9;
      const A = K.alloc(m * k), B = K.alloc(k * n), C = K.alloc(m * n);
      for (let i = 0; i < A.length; i++) A[i] = (i % 7) - 3;
      for (let i = 0; i < B.length; i++) B[i] = (i % 5) - 2;
      K.gemmNN(m, n, k, A, B, C, false);
      expect(Array.from(C)).toEqual(Array.from(oracle('NN', m, n, k, A, B, C, false)));
      const C2 = new Float32Array(m * n);
      K.gemmNN(m, n, k, A, B, C2, false);
      expect(Array.from(C2)).toEqual(Array.from(C));
      expect(K.stats()).toEqual({ native: 1, fallback: 1 });
    });

    it('threads: products split over helper threads are bit-identical to one thread', () => {
      const K = nativeKernels({ isa });
      const fill = filler(5);
      try {
        for (const v of ['NN', 'TN', 'NT'] as const) {
          for (const [m, n, k] of [[128, 256, 784], [784, 256, 128], [300, 20, 700], [64, 600, 200], [257, 33, 1000]] as const) {
            const A = fill(K.alloc(m * k)), B = fill(K.alloc(k * n)), C0 = fill(K.alloc(m * n));
            const C1 = K.alloc(m * n), C2 = K.alloc(m * n), C3 = K.alloc(m * n);
            C1.set(C0); C2.set(C0); C3.set(C0);
            K.setThreads(1);
            K[`gemm${v}`](m, n, k, A, B, C1, true);
            K.setThreads(2);
            K[`gemm${v}`](m, n, k, A, B, C2, true);
            K.setThreads(3);
            K[`gemm${v}`](m, n, k, A, B, C3, true);
            expect(Array.from(C2)).toEqual(Array.from(C1));
            expect(Array.from(C3)).toEqual(Array.from(C1));
          }
        }
      } finally {
        K.setThreads(1);
      }
    });

    it('biasActivation and the ReLU mask are bit-identical to the reference loops (NaN, −0)', () => {
      const K = nativeKernels({ isa });
      for (const n of [1, 3, 8, 16, 17, 33, 64, 130]) {
        const m = 5;
        for (const act of ['relu', 'linear'] as const) {
          const Z = filler(n)(K.alloc(m * n)), b = filler(n + 1)(K.alloc(n)), A = K.alloc(m * n);
          Z[0] = NaN; Z[1 % (m * n)] = -0;
          const z = Float32Array.from(Z), want = new Float32Array(m * n);
          for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) z[r * n + j] += b[j];
          for (let i = 0; i < m * n; i++) want[i] = act === 'relu' ? (z[i] > 0 ? z[i] : 0) : z[i];
          expect(K.biasActivation(act, m, n, Z, b, A)).toBe(true);
          expect(Array.from(Z)).toEqual(Array.from(z));
          expect(Array.from(A)).toEqual(Array.from(want));
        }
        const Z = filler(n)(K.alloc(n)), D = filler(2 * n)(K.alloc(n));
        Z[0] = NaN;
        const d = Float32Array.from(D);
        for (let i = 0; i < n; i++) if (!(Z[i] > 0)) d[i] = 0;
        expect(K.activationBackward('relu', n, Z, Z, D)).toBe(true);
        expect(Array.from(D)).toEqual(Array.from(d));
      }
      expect(K.biasActivation('tanh', 1, 1, K.alloc(1), K.alloc(1), K.alloc(1))).toBe(false);
    });

    it('columnSums adds rows in order (bit-identical); sums in float64 propagate non-finite values', () => {
      const K = nativeKernels({ isa });
      for (const n of [1, 3, 16, 17, 64, 70, 130]) {
        for (const m of [1, 2, 31, 128]) {
          const D = filler(m * 1000 + n)(K.alloc(m * n)), db = filler(7)(K.alloc(n));
          const want = new Float32Array(n);
          for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) want[j] += D[r * n + j];
          K.columnSums(m, n, D, db);
          expect(Array.from(db)).toEqual(Array.from(want));
        }
      }
      for (const n of [0, 1, 3, 5, 1000, 4099]) {
        const x = filler(n + 3)(K.alloc(n));
        let ss = 0, s = 0;
        for (let i = 0; i < n; i++) { ss += x[i] * x[i]; s += x[i]; }
        expect(K.sumSquares(x)).toBeCloseTo(ss, 10);
        expect(K.sum(x)).toBeCloseTo(s, 10);
      }
      const x = filler(1)(K.alloc(40));
      x[33] = NaN;
      expect(K.sumSquares(x)).toBeNaN();
      x[33] = Infinity;
      expect(K.sum(x)).toBe(Infinity);
    });

    const optimizerCases: [string, OptimizerSpec][] = [
      ['adam', { type: 'adam', learningRate: 1e-2 }],
      ['adam + L2', { type: 'adam', learningRate: 1e-3, weightDecay: 0.1 }],
      ['adamw', { type: 'adamw', learningRate: 1e-2, weightDecay: 0.05 }],
      ['momentum classic', { type: 'momentum', learningRate: 0.05, momentum: 0.9 }],
      ['momentum ema', { type: 'momentum', variant: 'ema', learningRate: 0.05, beta: 0.8 }],
      ['momentum nesterov + L2', { type: 'momentum', nesterov: true, learningRate: 0.05, momentum: 0.7, weightDecay: 0.01 }],
    ];
    for (const [label, spec] of optimizerCases) {
      it(`${label}: the fused update tracks the TypeScript optimizer to float32 tolerance over 5 steps`, () => {
        const K = nativeKernels({ isa });
        const n = 37;
        const opt = createOptimizer(spec);
        const wRef = filler(1)(new Float32Array(n)), w = K.alloc(n);
        w.set(wRef);
        const s1 = K.alloc(n), s2 = K.alloc(n);
        const isAdam = spec.type === 'adam' || spec.type === 'adamw';
        for (let t = 1; t <= 5; t++) {
          const g = filler(100 + t)(K.alloc(n));
          opt.step([wRef], [Float32Array.from(g)]);
          const lr = spec.learningRate!;
          if (isAdam) {
            const wd = spec.weightDecay ?? (spec.type === 'adamw' ? 0.01 : 0);
            expect(K.adamUpdate(w, g, s1, s2, {
              beta1: 0.9, beta2: 0.999, epsilon: 1e-8, lr, c1: 1 - 0.9 ** t, c2: 1 - 0.999 ** t,
              l2: spec.type === 'adamw' ? 0 : wd, shrink: spec.type === 'adamw' ? 1 - lr * wd : 1,
            })).toBe(true);
          } else {
            const ema = spec.variant === 'ema';
            const mu = ema ? spec.beta! : spec.momentum!;
            expect(K.momentumUpdate(w, g, s1, mu, ema ? 1 - mu : 1, spec.weightDecay ?? 0, lr, spec.nesterov ?? false)).toBe(true);
          }
          for (let i = 0; i < n; i++) expect(Math.abs(w[i] - wRef[i])).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(wRef[i])));
        }
      });
    }

    it('gatherRows copies the indexed rows exactly; adopt makes a plain array addressable', () => {
      const K = nativeKernels({ isa });
      for (const f of [1, 3, 20, 21, 784]) {
        const rows = 50;
        const src = filler(f)(K.alloc(rows * f)), idx = K.allocIndex(rows), dst = K.alloc(8 * f);
        for (let i = 0; i < rows; i++) idx[i] = (i * 17) % rows;
        expect(K.gatherRows(7, f, src, idx, 3, dst)).toBe(true);
        for (let r = 0; r < 7; r++) expect(Array.from(dst.subarray(r * f, (r + 1) * f))).toEqual(Array.from(src.subarray(idx[3 + r] * f, (idx[3 + r] + 1) * f)));
        expect(dst[7 * f]).toBe(0);
      }
      const plain = filler(3)(new Float32Array(1000));
      const view = plain.subarray(100, 140);
      expect(K.gatherRows(1, 4, view, K.allocIndex(1), 0, K.alloc(4))).toBe(false);
      expect(K.adopt(view)).toBe(true);
      const dst = K.alloc(4), idx = K.allocIndex(1);
      idx[0] = 2;
      expect(K.gatherRows(1, 4, view, idx, 0, dst)).toBe(true);
      expect(Array.from(dst)).toEqual(Array.from(plain.subarray(108, 112)));
      expect(K.adopt(new Float32Array(new SharedArrayBuffer(16)))).toBe(false);
    });

    it('dispose falls back to the reference loops and keeps old buffers readable', () => {
      const K = nativeKernels({ isa });
      const A = K.alloc(4).fill(1), B = K.alloc(4).fill(1), C = K.alloc(4);
      K.dispose();
      K.gemmNN(2, 2, 2, A, B, C, false);
      expect(Array.from(C)).toEqual([2, 2, 2, 2]);
      expect(K.stats()).toEqual({ native: 0, fallback: 1 });
      // the reference backend stays the reference
      expect(jsKernels('float32').name).toBe('js-f32');
    });
  });
}
