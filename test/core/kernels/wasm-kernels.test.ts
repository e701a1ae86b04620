import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relaxedSimdAvailable, wasmAvailable, wasmKernels, type WasmKernels } from '../../../src/core/kernels/wasm/wasm-kernels.js';
import { compileKernelModules, renderGeneratedModule } from '../../../scripts/wasm/compile.js';

// Node 20 validates relaxed SIMD only behind this flag; set before the kernels compile (lazily).
setFlagsFromString('--experimental-wasm-relaxed-simd');

type Variant = 'NN' | 'TN' | 'NT';

/** Float64 triple loop straight from the definitions (A, B in their stored layouts). */
function oracle(v: Variant, m: number, n: number, k: number, A: Float32Array, B: Float32Array, C0: Float32Array, acc: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = acc ? C0[i * n + j] : 0;
      for (let p = 0; p < k; p++) {
        const a = v === 'TN' ? A[p * m + i] : A[i * k + p];
        const b = v === 'NT' ? B[j * k + p] : B[p * n + j];
        s += a * b;
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Deterministic uniform(-1, 1) values (mulberry32). */
function filler(seed: number): (x: Float32Array) => void {
  let a = seed >>> 0;
  return (x) => {
    for (let i = 0; i < x.length; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      x[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
    }
  };
}

/** Max |got − want| relative to the worst-case rounding scale k·max|a||b| (float32 eps ≈ 1.2e-7). */
function expectClose(got: Float32Array, want: Float64Array, k: number): void {
  const tol = 4e-7 * (k + 2) * 2;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(tol);
}

function run(K: WasmKernels, v: Variant, m: number, n: number, k: number, acc: boolean, seed: number, inWasm = true): void {
  const fill = filler(seed);
  const mk = (len: number): Float32Array => (inWasm ? K.alloc(len) : new Float32Array(len));
  const A = mk(m * k), B = mk(k * n), C = mk(m * n);
  fill(A); fill(B); fill(C);
  const C0 = Float32Array.from(C);
  const want = oracle(v, m, n, k, A, B, C0, acc);
  K[`gemm${v}`](m, n, k, A, B, C, acc);
  expectClose(C, want, k);
}

const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 8, 1], [3, 5, 7], [4, 8, 16], [17, 33, 9], [33, 17, 65], [127, 5, 3], [5, 127, 31],
  [32, 64, 20], [32, 1, 64], [64, 1, 32], [32, 64, 1], [128, 10, 128], [9, 24, 0], [12, 40, 300], [2, 3, 1030],
  // B over 32 KiB with a partial last panel: all full panels packed up front, the last one on its own
  [9, 45, 200], [33, 130, 70],
];

describe.runIf(wasmAvailable())('wasm SIMD float32 kernels', () => {
  for (const relaxed of [false, true]) {
    describe.runIf(!relaxed || relaxedSimdAvailable())(relaxed ? 'relaxed FMA module' : 'SIMD128 module', () => {
      for (const v of ['NN', 'TN', 'NT'] as const) {
        it(`gemm${v} matches the float64 oracle on odd shapes, accumulate on and off`, () => {
          const K = wasmKernels({ relaxed });
          expect(K.relaxed).toBe(relaxed);
          let seed = 1;
          for (const [m, n, k] of shapes) {
            run(K, v, m, n, k, false, seed++);
            run(K, v, m, n, k, true, seed++);
          }
          expect(K.stats()).toEqual({ wasm: shapes.length * 2, fallback: 0 });
          K.dispose();
        });
      }
    });
  }

  it('random shapes in a property loop (all variants)', () => {
    const K = wasmKernels();
    const rnd = filler(99);
    const u = new Float32Array(4);
    for (let t = 0; t < 60; t++) {
      rnd(u);
      const [m, n, k] = [1 + Math.floor(Math.abs(u[0]) * 70), 1 + Math.floor(Math.abs(u[1]) * 70), Math.floor(Math.abs(u[2]) * 90)];
      const v = (['NN', 'TN', 'NT'] as const)[t % 3];
      run(K, v, m, n, k, u[3] > 0, 1000 + t);
    }
  });

  it('buffers allocated before a memory grow stay valid and are still computed in wasm', () => {
    const K = wasmKernels({ initialBytes: 65536 });
    const A = K.alloc(64 * 64);
    const before = K.bytesUsed();
    const big = K.alloc(4_000_000); // forces grow
    expect(K.bytesUsed()).toBeGreaterThan(before + 16_000_000 - 1);
    big[big.length - 1] = 3;
    A.fill(1);
    const B = K.alloc(64 * 64).fill(2);
    const C = K.alloc(64 * 64);
    K.gemmNN(64, 64, 64, A, B, C, false);
    expect(K.stats()).toEqual({ wasm: 1, fallback: 0 });
    expect(C[0]).toBe(128);
    expect(C[64 * 64 - 1]).toBe(128);
    expect(A.length).toBe(4096); // not detached
  });

  it('buffers past 2 GiB of memory (offsets above 2^31) are still computed in wasm', () => {
    const K = wasmKernels();
    K.alloc(600_000_000); // 2.4 GB reserved, untouched: not resident
    const A = K.alloc(16).fill(1), B = K.alloc(16).fill(2), C = K.alloc(16);
    expect(C.byteOffset).toBeGreaterThan(2 ** 31);
    K.gemmNN(4, 4, 4, A, B, C, false);
    expect(Array.from(C)).toEqual(new Array(16).fill(8));
    expect(K.stats()).toEqual({ wasm: 1, fallback: 0 });
    K.dispose();
  });

  it('plain typed arrays (not in wasm memory) fall back to the reference loops', () => {
    const K = wasmKernels();
    for (const v of ['NN', 'TN', 'NT'] as const) run(K, v, 13, 21, 17, true, 7, false);
    expect(K.stats()).toEqual({ wasm: 0, fallback: 3 });
    const A = K.alloc(6).fill(1), B = new Float32Array(6).fill(1), C = K.alloc(4);
    K.gemmNN(2, 2, 3, A, B, C, false);
    expect(Array.from(C)).toEqual([3, 3, 3, 3]);
  });

  it('instances do not share memory, and dispose falls back without breaking old buffers', () => {
    const K1 = wasmKernels(), K2 = wasmKernels();
    const a = K1.alloc(16), b = K2.alloc(16);
    expect(a.buffer).not.toBe(b.buffer);
    a.fill(5);
    expect(b[0]).toBe(0);
    const A = K1.alloc(4).fill(1), B = K1.alloc(4).fill(1), C = K1.alloc(4);
    K1.dispose();
    K1.gemmNN(2, 2, 2, A, B, C, false);
    expect(Array.from(C)).toEqual([2, 2, 2, 2]);
  });

  it('threads: column chunks shared with a helper thread give bit-identical results to one thread', () => {
    const one = wasmKernels({ relaxed: false });
    const two = wasmKernels({ relaxed: false, threads: 2, parallelMinFlops: 0 });
    expect(two.threads).toBe(2);
    const fill = filler(5);
    for (const v of ['NN', 'TN', 'NT'] as const) {
      for (const [m, n, k] of [[9, 17, 33], [64, 40, 70], [130, 24, 5], [8, 8, 8], [257, 33, 100], [5, 130, 300], [33, 257, 9]] as const) {
        const a1 = one.alloc(m * k), b1 = one.alloc(k * n), c1 = one.alloc(m * n);
        fill(a1); fill(b1); fill(c1);
        const a2 = two.alloc(m * k).fill(0), b2 = two.alloc(k * n), c2 = two.alloc(m * n);
        a2.set(a1); b2.set(b1); c2.set(c1);
        one[`gemm${v}`](m, n, k, a1, b1, c1, true);
        two[`gemm${v}`](m, n, k, a2, b2, c2, true);
        expect(Array.from(c2)).toEqual(Array.from(c1));
      }
    }
    expect(two.stats().fallback).toBe(0);
    two.dispose();
    one.dispose();
  });

  it('threads: a helper that traps surfaces as an error instead of a hang, and the pool still works', () => {
    const K = wasmKernels({ relaxed: false, threads: 2, parallelMinFlops: 0, initialBytes: 65536 });
    const m = 64, n = 4096, k = 8;
    // C is far too short for n columns: whichever thread takes the far chunks writes past the memory's end
    const A = K.alloc(m * k).fill(1), B = K.alloc(k * n).fill(1), C = K.alloc(16);
    expect(() => K.gemmNN(m, n, k, A, B, C, false)).toThrow();
    const A2 = K.alloc(16 * k).fill(2), B2 = K.alloc(k * 64).fill(1), C2 = K.alloc(16 * 64);
    K.gemmNN(16, 64, k, A2, B2, C2, false);
    expect(C2[16 * 64 - 1]).toBe(16);
    K.dispose();
  });

  it('exact results on small integers (no reassociation error)', () => {
    const K = wasmKernels();
    const m = 5, n = 11, k = 9;
    const A = K.alloc(m * k), B = K.alloc(k * n), C = K.alloc(m * n);
    for (let i = 0; i < A.length; i++) A[i] = (i % 7) - 3;
    for (let i = 0; i < B.length; i++) B[i] = (i % 5) - 2;
    K.gemmNN(m, n, k, A, B, C, false);
    const want = oracle('NN', m, n, k, A, B, C, false);
    expect(Array.from(C)).toEqual(Array.from(want));
  });
});

describe('generated module', () => {
  it('is up to date with gemm-wat.ts (run `npm run build:wasm` after editing the generator)', async () => {
    const committed = readFileSync(fileURLToPath(new URL('../../../src/core/kernels/wasm/gemm-module.generated.ts', import.meta.url)), 'utf8');
    expect(committed).toBe(renderGeneratedModule(await compileKernelModules()));
  });
});
