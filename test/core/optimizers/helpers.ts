import { expect } from 'vitest';
import { InvalidSpecError } from '../../../src/core/errors.js';
import { createOptimizer } from '../../../src/core/optimizers/index.js';
import type { Buf, OptimizerSpec } from '../../../src/core/types.js';

type BufCtor = Float32ArrayConstructor | Float64ArrayConstructor;

/**
 * Runs `steps` optimizer steps on one tensor starting at `w0`; `grad(w, step)` gives the
 * gradient (step counts from 1). Returns the weights after each step as plain numbers.
 */
export function trajectory(spec: OptimizerSpec, w0: number[], grad: (w: number[], step: number) => number[], steps: number, Ctor: BufCtor = Float64Array): number[][] {
  const opt = createOptimizer(spec);
  const w = Ctor.from(w0);
  const g = new Ctor(w0.length);
  const out: number[][] = [];
  for (let s = 1; s <= steps; s++) {
    g.set(grad(Array.from(w), s));
    opt.step([w], [g]);
    out.push(Array.from(w));
  }
  expect(opt.steps).toBe(steps);
  return out;
}

/** f(x) = Σ x²: gradient 2x. */
export const square = (w: number[]): number[] => w.map((x) => 2 * x);

/** Asserts each row of `got` equals `expected` within `tol`. */
export function expectClose(got: number[][], expected: number[][], tol: number): void {
  expect(got.length).toBe(expected.length);
  got.forEach((row, s) => row.forEach((x, j) => {
    if (Math.abs(x - expected[s][j]) > tol) throw new Error(`step ${s + 1}, element ${j}: got ${x}, expected ${expected[s][j]} (tol ${tol})`);
  }));
}

/** Float64 to 1e-12 and Float32 to 1e-6 against the hand-derived trajectory. */
export function expectTrajectory(spec: OptimizerSpec, w0: number[], grad: (w: number[], step: number) => number[], expected: number[][]): void {
  expectClose(trajectory(spec, w0, grad, expected.length, Float64Array), expected, 1e-12);
  expectClose(trajectory(spec, w0, grad, expected.length, Float32Array), expected, 1e-6);
}

/**
 * An uninterrupted run of `total` steps on two tensors ends bit-identical to a run saved after
 * `split` steps (structured clone of `state()`), loaded into a fresh optimizer, and continued.
 */
export function expectRoundTrip(spec: OptimizerSpec, split = 3, total = 7): void {
  for (const Ctor of [Float64Array, Float32Array] as BufCtor[]) {
    const init = (): Buf[] => [Ctor.from([0.5, -1.5, 2, 0.25]), Ctor.from([1, -0.3])];
    const gradsFor = (params: Buf[], s: number, out: Buf[]): void => {
      params.forEach((p, i) => p.forEach((x, j) => (out[i][j] = 2 * x + Math.sin(3 * s + j + i))));
    };
    const grads: Buf[] = [new Ctor(4), new Ctor(2)];

    const a = createOptimizer(spec);
    const pa = init();
    for (let s = 1; s <= total; s++) {
      gradsFor(pa, s, grads);
      a.step(pa, grads);
    }

    const b = createOptimizer(spec);
    const pb = init();
    for (let s = 1; s <= split; s++) {
      gradsFor(pb, s, grads);
      b.step(pb, grads);
    }
    const saved = b.state();
    // stepping the live optimizer after state() must not change the saved copy
    gradsFor(pb, 99, grads);
    b.step(pb.map((p) => p.slice()), grads);
    const c = createOptimizer(spec);
    c.load(structuredClone(saved));
    expect(c.steps).toBe(split);
    for (let s = split + 1; s <= total; s++) {
      gradsFor(pb, s, grads);
      c.step(pb, grads);
    }
    expect(c.steps).toBe(total);
    expect(pb.map((p) => Array.from(p))).toEqual(pa.map((p) => Array.from(p)));
    expect(c.state()).toEqual(a.state());
  }
}

/** `createOptimizer(spec)` throws an InvalidSpecError whose path is `path`. */
export function expectInvalid(spec: OptimizerSpec, path: string): void {
  let error: unknown;
  try {
    createOptimizer(spec);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidSpecError);
  expect((error as InvalidSpecError).path).toBe(path);
}
