import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from '../../src/core/errors.js';
import { defaultInit, initialize, initStd } from '../../src/core/init.js';
import { createRng } from '../../src/core/rng.js';
import { INITS, type InitName } from '../../src/core/types.js';

function stats(w: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < w.length; i++) {
    sum += w[i];
    if (w[i] < min) min = w[i];
    if (w[i] > max) max = w[i];
  }
  const mean = sum / w.length;
  let sq = 0;
  for (let i = 0; i < w.length; i++) sq += (w[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / w.length), min, max };
}

describe('initialize', () => {
  const fanIn = 1000;
  const fanOut = 200;
  // hand-computed standard deviations for fan_in 1000, fan_out 200
  const expectedStd: Record<InitName, number> = {
    lecun_normal: Math.sqrt(1 / 1000), // 0.031623
    lecun_uniform: Math.sqrt(1 / 1000),
    he_normal: Math.sqrt(2 / 1000), // 0.044721
    he_uniform: Math.sqrt(2 / 1000),
    xavier_normal: Math.sqrt(2 / 1200), // 0.040825
    xavier_uniform: Math.sqrt(2 / 1200),
  };

  for (const init of INITS) {
    it(`${init}: std within 3% of the formula, mean ≈ 0`, () => {
      expect(initStd(init, fanIn, fanOut)).toBeCloseTo(expectedStd[init], 15);
      const w = initialize(init, fanIn, fanOut, createRng(123));
      expect(w.length).toBe(fanIn * fanOut);
      const s = stats(w);
      expect(Math.abs(s.std / expectedStd[init] - 1)).toBeLessThan(0.03);
      // standard error of the mean: std/sqrt(200000) ≈ std·0.0022; allow 5 SE
      expect(Math.abs(s.mean)).toBeLessThan(0.012 * expectedStd[init]);
      if (init.endsWith('_uniform')) {
        const l = Math.sqrt(3) * expectedStd[init];
        expect(s.min).toBeGreaterThanOrEqual(-l);
        expect(s.max).toBeLessThanOrEqual(l);
        // and the bounds are approached: a uniform sample of 200k fills its range
        expect(s.max).toBeGreaterThan(0.999 * l);
        expect(s.min).toBeLessThan(-0.999 * l);
      } else {
        // normal: some values beyond 3 sigma (P ≈ 0.27%), none absurd
        expect(s.max).toBeGreaterThan(3 * expectedStd[init]);
        expect(s.max).toBeLessThan(7 * expectedStd[init]);
      }
    });
  }

  it('is deterministic per seed and fills float32 buffers with the rounded float64 draws', () => {
    const a = initialize('he_normal', 30, 20, createRng(5));
    const b = initialize('he_normal', 30, 20, createRng(5));
    const c = initialize('he_normal', 30, 20, createRng(6));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const f32 = new Float32Array(600);
    const ret = initialize('he_normal', 30, 20, createRng(5), f32);
    expect(ret).toBe(f32);
    expect(Array.from(f32)).toEqual(Array.from(a, (x) => Math.fround(x)));
  });

  it('rejects unknown inits and mismatched buffers', () => {
    expect(() => initialize('rand' as InitName, 2, 2, createRng(0))).toThrow(InvalidSpecError);
    try {
      initialize('rand' as InitName, 2, 2, createRng(0));
    } catch (e) {
      expect((e as InvalidSpecError).path).toBe('model.init');
    }
    expect(() => initialize('he_normal', 2, 2, createRng(0), new Float32Array(3))).toThrow(RangeError);
    expect(() => initialize('he_normal', 0, 2, createRng(0))).toThrow(RangeError);
  });

  it('defaultInit: He for ReLU-like, Xavier otherwise', () => {
    expect(defaultInit('relu')).toBe('he_normal');
    expect(defaultInit('leaky_relu')).toBe('he_normal');
    expect(defaultInit('tanh')).toBe('xavier_normal');
    expect(defaultInit('sigmoid')).toBe('xavier_normal');
    expect(defaultInit('linear')).toBe('xavier_normal');
  });
});
