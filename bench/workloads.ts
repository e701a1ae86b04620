/*
 * The benchmark workloads and their seeded synthetic data. The parent (bench/core.ts) writes the
 * data once to a binary file; every implementation (ours, tfjs, numpy) reads the same bytes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

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
  /** Rows of a held-out test set after the training rows in the data file (real data: test accuracy). */
  testRows?: number;
}

export const W1: Workload = {
  name: 'W1', rows: 60_000, features: 784, layers: [256, 128, 10], task: 'classification', batch: 128,
  optimizer: { type: 'adam', learningRate: 1e-3 },
};
export const W2: Workload = {
  name: 'W2', rows: 10_000, features: 20, layers: [64, 64, 1], task: 'regression', batch: 32,
  optimizer: { type: 'momentum', learningRate: 0.01, momentum: 0.9 },
};

/** Fashion-MNIST (Debian's dataset-fashion-mnist): W1's net and optimizer on real images, test accuracy on the 10,000 test images. */
export const FASHION: Workload = {
  name: 'Fashion-MNIST', rows: 60_000, features: 784, layers: [256, 128, 10], task: 'classification', batch: 128,
  optimizer: { type: 'adam', learningRate: 1e-3 }, testRows: 10_000,
};

/** Where `apt-get install dataset-fashion-mnist` puts the IDX files. */
export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST as float32 (pixels / 255, labels 0–9), or null when the package is not installed. */
export function fashionMnist(dir = FASHION_DIR): { x: Float32Array; y: Float32Array; xt: Float32Array; yt: Float32Array } | null {
  const file = (name: string): string => join(dir, name);
  const names = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
  if (!names.every((n) => existsSync(file(n)))) return null;
  const idx = (name: string, headerBytes: number): Uint8Array => {
    const b = gunzipSync(readFileSync(file(name)));
    return new Uint8Array(b.buffer, b.byteOffset + headerBytes, b.byteLength - headerBytes);
  };
  const images = (name: string): Float32Array => Float32Array.from(idx(name, 16), (v) => v / 255);
  const labels = (name: string): Float32Array => Float32Array.from(idx(name, 8));
  return { x: images(names[0]), y: labels(names[1]), xt: images(names[2]), yt: labels(names[3]) };
}

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

/** Writes x, y (and the test set's xt, yt when given) as little-endian float32 to one file. */
export function writeData(path: string, d: { x: Float32Array; y: Float32Array; xt?: Float32Array; yt?: Float32Array }): void {
  const parts = [d.x, d.y, ...(d.xt && d.yt ? [d.xt, d.yt] : [])];
  writeFileSync(path, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
}

export function readData(path: string, w: Workload): { x: Float32Array; y: Float32Array; xt?: Float32Array; yt?: Float32Array } {
  const buf = readFileSync(path);
  // views, not copies, when the bytes are 4-aligned: peak RSS then counts the file once
  const aligned = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  const all = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  const nx = w.rows * w.features;
  const out = { x: all.subarray(0, nx), y: all.subarray(nx, nx + w.rows) };
  if (!w.testRows) return out;
  const at = nx + w.rows, ntx = w.testRows * w.features;
  return { ...out, xt: all.subarray(at, at + ntx), yt: all.subarray(at + ntx, at + ntx + w.testRows) };
}

/** Same architecture with other hidden widths or batch (the scaling table). */
export function variant(w: Workload, changes: Partial<Workload>): Workload {
  return { ...w, ...changes };
}
