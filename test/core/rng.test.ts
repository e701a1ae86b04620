import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/core/rng.js';

describe('createRng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    // seeds that differ only above 2^32, or in sign, are distinct streams too
    expect(createRng(2 ** 32 + 5).nextUint32()).not.toBe(createRng(5).nextUint32());
    expect(createRng(-5).nextUint32()).not.toBe(createRng(5).nextUint32());
  });

  it('next() is uniform on [0, 1): range, mean 1/2, variance 1/12', () => {
    const r = createRng(1);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      sum += x;
      sq += x * x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // standard error of the mean is sqrt(1/12/n) ≈ 6.5e-4: 5 sigma
    expect(Math.abs(mean - 0.5)).toBeLessThan(3.3e-3);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(2e-3);
  });

  it('int(n) is unbiased: chi-square over 10 buckets', () => {
    const r = createRng(7);
    const counts = new Array(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[r.int(10)]++;
    const e = n / 10;
    const chi2 = counts.reduce((s, c) => s + ((c - e) * (c - e)) / e, 0);
    // 9 degrees of freedom: P(chi2 > 27.88) = 0.001
    expect(chi2).toBeLessThan(27.88);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(2.5)).toThrow(RangeError);
  });

  it('normal() has mean 0, variance 1 and normal tails', () => {
    const r = createRng(3);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let beyond2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
      if (Math.abs(z) > 2) beyond2++;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(1 / n));
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.02);
    // P(|Z| > 2) = 0.0455
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
  });

  it('shuffle is a permutation and every position is reachable', () => {
    const r = createRng(9);
    const a = Uint32Array.from({ length: 50 }, (_, i) => i);
    r.shuffle(a);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    // element 0 of [0,1,2] lands in each of 3 positions about 1/3 of the time
    const where = [0, 0, 0];
    for (let k = 0; k < 30_000; k++) {
      const b = [0, 1, 2];
      r.shuffle(b);
      where[b.indexOf(0)]++;
    }
    for (const w of where) expect(Math.abs(w / 30_000 - 1 / 3)).toBeLessThan(0.015);
  });

  it('state()/load() round-trips bit-exactly mid-stream, including a cached spare normal', () => {
    const r = createRng(11);
    for (let i = 0; i < 17; i++) r.next();
    r.normal(); // leaves the spare of the Box–Muller pair in the state
    const saved = structuredClone(r.state());
    const expected = [r.normal(), r.next(), r.nextUint32(), r.int(1000), r.normal(), r.normal()];
    const other = createRng(999);
    other.load(saved);
    const got = [other.normal(), other.next(), other.nextUint32(), other.int(1000), other.normal(), other.normal()];
    expect(got).toEqual(expected);
    expect(() => other.load({ kind: 'nope' })).toThrow(TypeError);
  });

  it('rejects a non-finite seed', () => {
    expect(() => createRng(Number.NaN)).toThrow(RangeError);
  });
});
