/*
 * The matmuls of one W1 training step in training order, on distinct buffers like the network's,
 * timed per product: shows what the kernels cost inside a step (caches cold-ish), not in a loop
 * over one shape. Run: [THREADS=2] [PAR_MIN=flops] node --import tsx bench/w1-gemm-step.ts [batch]
 */
import { wasmKernels } from '../src/core/kernels/wasm/wasm-kernels.js';

const B = Number(process.argv[2] ?? 128);
const sizes = [784, 256, 128, 10];
const K = wasmKernels({ threads: Number(process.env.THREADS ?? 1), parallelMinFlops: process.env.PAR_MIN ? Number(process.env.PAR_MIN) : undefined });
const rnd = (x: Float32Array): Float32Array => { for (let i = 0; i < x.length; i++) x[i] = Math.random() - 0.5; return x; };
const X = rnd(K.alloc(B * 784));
const W = sizes.slice(1).map((u, l) => rnd(K.alloc(sizes[l] * u)));
const dW = sizes.slice(1).map((u, l) => K.alloc(sizes[l] * u));
const A = sizes.slice(1).map((u) => rnd(K.alloc(B * u)));
const D = sizes.slice(1).map((u) => rnd(K.alloc(B * u)));
const names: string[] = [];
const ops: (() => void)[] = [];
const flops: number[] = [];
for (let l = 0; l < 3; l++) {
  const inp = l === 0 ? X : A[l - 1];
  names.push(`fwd L${l + 1} NN ${B}×${sizes[l + 1]}×${sizes[l]}`);
  flops.push(2 * B * sizes[l + 1] * sizes[l]);
  ops.push(() => K.gemmNN(B, sizes[l + 1], sizes[l], inp, W[l], A[l], false));
}
for (let l = 2; l >= 0; l--) {
  const inp = l === 0 ? X : A[l - 1];
  names.push(`dW L${l + 1} TN ${sizes[l]}×${sizes[l + 1]}×${B}`);
  flops.push(2 * B * sizes[l + 1] * sizes[l]);
  ops.push(() => K.gemmTN(sizes[l], sizes[l + 1], B, inp, D[l], dW[l], false));
  if (l > 0) {
    names.push(`dX L${l + 1} NT ${B}×${sizes[l]}×${sizes[l + 1]}`);
    flops.push(2 * B * sizes[l + 1] * sizes[l]);
    ops.push(() => K.gemmNT(B, sizes[l], sizes[l + 1], D[l], W[l], D[l - 1], false));
  }
}
const t = new Float64Array(ops.length);
const steps = 600;
for (let s = 0; s < steps + 100; s++) {
  for (let o = 0; o < ops.length; o++) {
    const t0 = performance.now();
    ops[o]();
    if (s >= 100) t[o] += performance.now() - t0;
  }
}
let total = 0, totalFlop = 0;
for (let o = 0; o < ops.length; o++) {
  total += t[o] / steps; totalFlop += flops[o];
  console.log(`${names[o].padEnd(28)} ${(t[o] / steps * 1000).toFixed(0).padStart(6)} µs  ${(flops[o] / (t[o] / steps) / 1e6).toFixed(1)} GFLOP/s`);
}
console.log(`step total ${(total * 1000).toFixed(0)} µs, ${(totalFlop / total / 1e6).toFixed(1)} GFLOP/s → gemm-only bound ${(B / total * 1000).toFixed(0)} samples/s`);
