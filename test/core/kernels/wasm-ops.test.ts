import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import { wasmAvailable, wasmKernels, type WasmKernels } from '../../../src/core/kernels/wasm/wasm-kernels.js';
import type { OptimizerSpec } from '../../../src/core/types.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

/** Deterministic uniform(lo, hi) (mulberry32). */
function fill(x: Float32Array, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    x[i] = lo + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo);
  }
  return x;
}

const widths = [1, 3, 4, 7, 16, 17, 33, 64, 130];

describe.runIf(wasmAvailable())('wasm fused ops', () => {
  const K: WasmKernels = wasmKernels();
  const buf = (n: number, seed: number): Float32Array => fill(K.alloc(n), seed);

  it('biasActivation (relu, linear) is bit-identical to the reference loops, NaN and −0 included', () => {
    for (const act of ['relu', 'linear'] as const) {
      for (const n of widths) {
        const m = 5;
        const Z = buf(m * n, n), b = buf(n, n + 1), A = K.alloc(m * n);
        Z[0] = NaN; Z[1 % (m * n)] = -0;
        const z = Float32Array.from(Z), a = new Float32Array(m * n);
        for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) z[r * n + j] += b[j];
        for (let i = 0; i < m * n; i++) a[i] = act === 'relu' ? (z[i] > 0 ? z[i] : 0) : z[i];
        expect(K.biasActivation(act, m, n, Z, b, A)).toBe(true);
        expect(Array.from(Z)).toEqual(Array.from(z));
        expect(Array.from(A)).toEqual(Array.from(a));
      }
    }
    expect(K.biasActivation('tanh', 1, 1, K.alloc(1), K.alloc(1), K.alloc(1))).toBe(false);
  });

  it('activationBackward (relu) masks exactly like the reference; linear is a no-op', () => {
    for (const n of widths) {
      const Z = buf(n, n), D = buf(n, 2 * n);
      Z[0] = NaN;
      const d = Float32Array.from(D);
      for (let i = 0; i < n; i++) if (!(Z[i] > 0)) d[i] = 0;
      expect(K.activationBackward('relu', n, Z, Z, D)).toBe(true);
      expect(Array.from(D)).toEqual(Array.from(d));
      const before = Array.from(D);
      expect(K.activationBackward('linear', n, Z, Z, D)).toBe(true);
      expect(Array.from(D)).toEqual(before);
    }
    expect(K.activationBackward('sigmoid', 1, K.alloc(1), K.alloc(1), K.alloc(1))).toBe(false);
  });

  it('columnSums adds rows in order in float32 (bit-identical to db[j] += D[r][j])', () => {
    for (const n of widths) {
      for (const m of [1, 2, 31, 128]) {
        const D = buf(m * n, m * 1000 + n), db = buf(n, 7);
        const want = new Float32Array(n);
        for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) want[j] += D[r * n + j];
        K.columnSums(m, n, D, db);
        expect(Array.from(db)).toEqual(Array.from(want));
      }
    }
  });

  it('sumSquares and sum match float64 sums and propagate non-finite values', () => {
    for (const n of [0, 1, 3, 5, 1000, 4099]) {
      const x = buf(n, n + 3);
      let ss = 0, s = 0;
      for (let i = 0; i < n; i++) { ss += x[i] * x[i]; s += x[i]; }
      expect(K.sumSquares(x)).toBeCloseTo(ss, 10);
      expect(K.sum(x)).toBeCloseTo(s, 10);
    }
    const x = buf(9, 1);
    x[6] = NaN;
    expect(K.sumSquares(x)).toBeNaN();
    x[6] = Infinity;
    expect(K.sum(x)).toBe(Infinity);
    expect(K.sumSquares(new Float32Array([3, 4]))).toBe(25); // outside wasm memory: JS loop
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
      const n = 37;
      const opt = createOptimizer(spec);
      const wRef = fill(new Float32Array(n), 1), w = K.alloc(n);
      w.set(wRef);
      const s1 = K.alloc(n), s2 = K.alloc(n);
      const isAdam = spec.type === 'adam' || spec.type === 'adamw';
      for (let t = 1; t <= 5; t++) {
        const g = buf(n, 100 + t);
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

  it('optimizer updates decline buffers outside wasm memory', () => {
    const x = new Float32Array(4);
    expect(K.momentumUpdate(x, K.alloc(4), K.alloc(4), 0.9, 1, 0, 0.1, false)).toBe(false);
    expect(K.adamUpdate(K.alloc(4), x, K.alloc(4), K.alloc(4), { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, lr: 1, c1: 1, c2: 1, l2: 0, shrink: 1 })).toBe(false);
  });

  it('gatherRows copies the indexed rows exactly (odd widths)', () => {
    for (const f of [1, 3, 20, 21, 784]) {
      const rows = 50;
      const src = buf(rows * f, f), idx = K.allocIndex(rows), dst = K.alloc(8 * f);
      for (let i = 0; i < rows; i++) idx[i] = (i * 17) % rows;
      expect(K.gatherRows(7, f, src, idx, 3, dst)).toBe(true);
      for (let r = 0; r < 7; r++) {
        expect(Array.from(dst.subarray(r * f, (r + 1) * f))).toEqual(Array.from(src.subarray(idx[3 + r] * f, (idx[3 + r] + 1) * f)));
      }
      expect(dst[7 * f]).toBe(0);
    }
    expect(K.gatherRows(1, 1, K.alloc(1), new Uint32Array(1), 0, K.alloc(1))).toBe(false);
  });
});
