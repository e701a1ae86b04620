/*
 * The benchmark workloads and their seeded synthetic data. The parent (bench/core.ts) writes the
 * data once to a binary file; every implementation (ours, tfjs, numpy) reads the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Workload {
  name: string;
  rows: number;
  features: number;
  /** Hidden and output widths. */
  layers: number[];
  /** 'classification': targets are class indices (softmax CE); 'regression': one real target (MSE). */
  task: 'classification' | 'regression';
  batch: number;
  optimizer: { type: 'adam'; learningRate: number } | { type: 'momentum'; learningRate: number; momentum: number };
}

export const W1: Workload = {
  name: 'W1', rows: 60_000, features: 784, layers: [256, 128, 10], task: 'classification', batch: 128,
  optimizer: { type: 'adam', learningRate: 1e-3 },
};
export const W2: Workload = {
  name: 'W2', rows: 10_000, features: 20, layers: [64, 64, 1], task: 'regression', batch: 32,
  optimizer: { type: 'momentum', learningRate: 0.01, momentum: 0.9 },
};

/** 6 × parameters: the usual FLOP count of one sample's forward + backward pass. */
export function flopPerSample(w: Workload): number {
  let p = 0, fan = w.features;
  for (const u of w.layers) { p += fan * u + u; fan = u; }
  return 6 * p;
}

/** mulberry32 → Box–Muller: a small, seeded N(0,1) stream. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Features N(0,1); W1 labels = argmax of a random linear teacher, W2 target = a smooth nonlinear function + noise. */
export function makeData(w: Workload, seed = 42): { x: Float32Array; y: Float32Array } {
  const g = normals(seed);
  const x = new Float32Array(w.rows * w.features);
  for (let i = 0; i < x.length; i++) x[i] = g();
  const y = new Float32Array(w.rows);
  if (w.task === 'classification') {
    const C = w.layers[w.layers.length - 1];
    const teacher = Float64Array.from({ length: w.features * C }, g);
    for (let r = 0; r < w.rows; r++) {
      let best = 0, bestV = -Infinity;
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let f = 0; f < w.features; f++) s += x[r * w.features + f] * teacher[f * C + c];
        if (s > bestV) { bestV = s; best = c; }
      }
      y[r] = best;
    }
  } else {
    for (let r = 0; r < w.rows; r++) {
      let s = 0;
      for (let f = 0; f < w.features; f++) s += Math.sin(x[r * w.features + f]) * (f % 2 ? 1 : -0.5);
      y[r] = s / Math.sqrt(w.features) + 0.1 * g();
    }
  }
  return { x, y };
}

/** Writes x then y (little-endian float32) to one file. */
export function writeData(path: string, d: { x: Float32Array; y: Float32Array }): void {
  const buf = Buffer.alloc((d.x.length + d.y.length) * 4);
  Buffer.from(d.x.buffer, d.x.byteOffset, d.x.byteLength).copy(buf, 0);
  Buffer.from(d.y.buffer, d.y.byteOffset, d.y.byteLength).copy(buf, d.x.byteLength);
  writeFileSync(path, buf);
}

export function readData(path: string, w: Workload): { x: Float32Array; y: Float32Array } {
  const buf = readFileSync(path);
  // views, not copies, when the bytes are 4-aligned: peak RSS then counts the file once
  const aligned = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  const all = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  const nx = w.rows * w.features;
  return { x: all.subarray(0, nx), y: all.subarray(nx, nx + w.rows) };
}

/** Same architecture with other hidden widths or batch (the scaling table). */
export function variant(w: Workload, changes: Partial<Workload>): Workload {
  return { ...w, ...changes };
}
