/*
 * Kernel microbenchmark: GFLOP/s of gemmNN/TN/NT at the shapes W1 and W2 train with, for the
 * wasm kernels (SIMD128, and relaxed-SIMD FMA when the runtime has it) and the TS reference.
 * Run: node --import tsx bench/gemm.ts [--quick] [--no-js] [--threads]
 * (node --experimental-wasm-relaxed-simd … adds the FMA module's column)
 */
import { jsKernels } from '../src/core/kernels/js.js';
import { relaxedSimdAvailable, wasmKernels } from '../src/core/kernels/wasm/wasm-kernels.js';
import type { Kernels } from '../src/core/kernels/types.js';

type V = 'NN' | 'TN' | 'NT';
/** [label, variant, m, n, k]: the forward, weight-gradient and input-gradient products of each layer. */
const SHAPES: [string, V, number, number, number][] = [
  ['W1 L1 fwd X·W 128×784·784×256', 'NN', 128, 256, 784],
  ['W1 L1 dW Xᵀ·dZ', 'TN', 784, 256, 128],
  ['W1 L2 fwd 128×256·256×128', 'NN', 128, 128, 256],
  ['W1 L2 dW', 'TN', 256, 128, 128],
  ['W1 L2 dX dZ·Wᵀ', 'NT', 128, 256, 128],
  ['W1 L3 fwd 128×128·128×10', 'NN', 128, 10, 128],
  ['W1 L3 dX', 'NT', 128, 128, 10],
  ['W2 L1 fwd 32×20·20×64', 'NN', 32, 64, 20],
  ['W2 L1 dW', 'TN', 20, 64, 32],
  ['W2 L2 fwd 32×64·64×64', 'NN', 32, 64, 64],
  ['W2 L2 dW', 'TN', 64, 64, 32],
  ['W2 L2 dX', 'NT', 32, 64, 64],
  ['W2 L3 fwd 32×64·64×1', 'NN', 32, 1, 64],
  ['W2 L3 dX', 'NT', 32, 64, 1],
  ['square 512³', 'NN', 512, 512, 512],
  ['square 512³ TN', 'TN', 512, 512, 512],
  ['square 512³ NT', 'NT', 512, 512, 512],
  ['square 1024³', 'NN', 1024, 1024, 1024],
];

function gflops(K: Kernels<Float32Array>, v: V, m: number, n: number, k: number, budgetMs: number): number {
  const A = K.alloc(m * k).fill(0.5), B = K.alloc(k * n).fill(0.25), C = K.alloc(m * n);
  const fn = K[`gemm${v}`].bind(K);
  const flop = 2 * m * n * k;
  // warm-up long enough for V8's optimizing wasm tier
  let reps = 1;
  for (let t0 = performance.now(); performance.now() - t0 < budgetMs / 4; reps++) fn(m, n, k, A, B, C, false);
  const samples: number[] = [];
  for (let s = 0; s < 5; s++) {
    const iters = Math.max(1, Math.round(reps / 3));
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn(m, n, k, A, B, C, false);
    samples.push((flop * iters) / ((performance.now() - t0) * 1e6));
  }
  samples.sort((a, b) => a - b);
  return samples[2];
}

const quick = process.argv.includes('--quick');
const budget = quick ? 150 : 600;
const backends: [string, Kernels<Float32Array>][] = [['wasm-simd', wasmKernels({ relaxed: false })]];
if (relaxedSimdAvailable()) backends.push(['wasm-fma', wasmKernels({ relaxed: true })]);
if (process.argv.includes('--threads')) {
  backends.push(['wasm-simd 2 threads', wasmKernels({ relaxed: false, threads: 2 })]);
  if (relaxedSimdAvailable()) backends.push(['wasm-fma 2 threads', wasmKernels({ relaxed: true, threads: 2 })]);
}
if (!process.argv.includes('--no-js')) backends.push(['js', jsKernels('float32') as Kernels<Float32Array>]);

console.log(`GFLOP/s (median of 5), ${new Date().toISOString()}, node ${process.version}`);
console.log(['shape', 'op', ...backends.map((b) => b[0])].join(' | '));
console.log(['---', '---', ...backends.map(() => '---')].join('|'));
for (const [label, v, m, n, k] of SHAPES) {
  if (quick && m * n * k > 600_000_000) continue;
  const row = backends.map(([name, K]) => (name === 'js' && m * n * k > 200_000_000 ? '-' : gflops(K, v, m, n, k, budget).toFixed(1)));
  console.log([label, `${v} ${m}×${n}×${k}`, ...row].join(' | '));
}
