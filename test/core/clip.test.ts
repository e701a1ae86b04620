import { describe, expect, it } from 'vitest';
import { clipGradients, globalNorm, l2Norm, tensorNorms } from '../../src/core/clip.js';
import { InvalidSpecError } from '../../src/core/errors.js';
import type { ClipSpec } from '../../src/core/types.js';

const f64 = (...xs: number[]) => Float64Array.from(xs);

describe('clipGradients', () => {
  it('norm: TF clip_by_norm([[−3,0,0],[4,0,0]], 4) → [[−2.4,0,0],[3.2,0,0]]', () => {
    // one 2×3 tensor (row-major), ‖g‖ = 5 → factor 4/5
    for (const Ctor of [Float64Array, Float32Array]) {
      const g = Ctor.from([-3, 0, 0, 4, 0, 0]);
      const r = clipGradients([g], { type: 'norm', maxNorm: 4 });
      expect(r).toEqual({ globalNorm: 5, clipped: true });
      const expected = [-2.4, 0, 0, 3.2, 0, 0];
      const tol = Ctor === Float64Array ? 1e-15 : 1e-6;
      g.forEach((x, i) => expect(Math.abs(x - expected[i])).toBeLessThanOrEqual(tol));
    }
  });

  it('norm is per tensor: only tensors above maxNorm shrink', () => {
    // [3,4] has norm 5 → ·2/5 = [1.2, 1.6]; [0.6, 0.8] has norm 1 ≤ 2 → unchanged; pre-clip global = sqrt(26)
    const a = f64(3, 4);
    const b = f64(0.6, 0.8);
    const r = clipGradients([a, b], { type: 'norm', maxNorm: 2 });
    expect(r.globalNorm).toBeCloseTo(Math.sqrt(26), 14);
    expect(r.clipped).toBe(true);
    expect(a[0]).toBeCloseTo(1.2, 15);
    expect(a[1]).toBeCloseTo(1.6, 15);
    expect(Array.from(b)).toEqual([0.6, 0.8]);
    expect(clipGradients([f64(3, 4)], { type: 'norm', maxNorm: 5 }).clipped).toBe(false);
  });

  it('global_norm: G = sqrt(‖[3,4]‖² + ‖[12]‖²) = 13, maxNorm 6.5 halves every tensor', () => {
    const a = f64(3, 4);
    const b = f64(12);
    const r = clipGradients([a, b], { type: 'global_norm', maxNorm: 6.5 });
    expect(r).toEqual({ globalNorm: 13, clipped: true });
    expect(Array.from(a)).toEqual([1.5, 2]);
    expect(Array.from(b)).toEqual([6]);
    // direction kept, and a per-tensor norm clip would have differed (b alone would go to 6.5)
    const c = f64(3, 4);
    const d = f64(12);
    expect(clipGradients([c, d], { type: 'global_norm', maxNorm: 13 })).toEqual({ globalNorm: 13, clipped: false });
    expect(Array.from(d)).toEqual([12]);
  });

  it('value: every element to [−c, c]', () => {
    const g = f64(-3, 0.5, 2, -0.2);
    const r = clipGradients([g], { type: 'value', value: 1 });
    expect(Array.from(g)).toEqual([-1, 0.5, 1, -0.2]);
    // pre-clip norm: sqrt(9 + 0.25 + 4 + 0.04) = sqrt(13.29)
    expect(r.globalNorm).toBeCloseTo(Math.sqrt(13.29), 14);
    expect(r.clipped).toBe(true);
    expect(clipGradients([f64(-3, 2)], { type: 'value', value: 3 }).clipped).toBe(false);
  });

  it('a non-finite gradient gives a non-finite global norm and is not scaled', () => {
    for (const clip of [{ type: 'global_norm', maxNorm: 1 }, { type: 'norm', maxNorm: 1 }, { type: 'value', value: 1 }] as ClipSpec[]) {
      const a = f64(1, Infinity);
      const b = f64(2, -5);
      const r = clipGradients([a, b], clip);
      expect(r).toEqual({ globalNorm: Infinity, clipped: false });
      expect(Array.from(a)).toEqual([1, Infinity]);
      expect(Array.from(b)).toEqual([2, -5]);
      const n = clipGradients([f64(Number.NaN, 1), f64(3)], clip);
      expect(n.globalNorm).toBeNaN();
      expect(n.clipped).toBe(false);
    }
  });

  it('finite float64 gradients beyond 1e154 do not overflow the norm', () => {
    const g = f64(3e200, 4e200);
    const r = clipGradients([g, f64(0)], { type: 'global_norm', maxNorm: 1 });
    expect(r.globalNorm / 5e200).toBeCloseTo(1, 14);
    expect(g[0]).toBeCloseTo(0.6, 14);
    expect(g[1]).toBeCloseTo(0.8, 14);
    expect(l2Norm(f64(3e200, 4e200)) / 5e200).toBeCloseTo(1, 14);
    expect(globalNorm([f64(3e200), f64(4e200)]) / 5e200).toBeCloseTo(1, 14);
  });

  it('no clip spec: reports the norm, changes nothing; the result object can be reused', () => {
    const g = f64(6, 8);
    const out = { globalNorm: 0, clipped: true };
    expect(clipGradients([g], undefined, out)).toBe(out);
    expect(out).toEqual({ globalNorm: 10, clipped: false });
    expect(Array.from(g)).toEqual([6, 8]);
  });

  it('rejects bad parameters with the field path', () => {
    const bad: [ClipSpec, string][] = [
      [{ type: 'norm', maxNorm: 0 }, 'clip.maxNorm'],
      [{ type: 'global_norm' }, 'clip.maxNorm'],
      [{ type: 'value', value: -1 }, 'clip.value'],
      [{ type: 'value', maxNorm: 1 }, 'clip.value'],
      [{ type: 'huge' as 'value', value: 1 }, 'clip.type'],
    ];
    for (const [clip, path] of bad) {
      let e: unknown;
      try {
        clipGradients([f64(1)], clip);
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(InvalidSpecError);
      expect((e as InvalidSpecError).path).toBe(path);
    }
  });
});

describe('norm helpers', () => {
  it('tensorNorms writes per-tensor norms and returns the global norm', () => {
    const out = new Float64Array(3);
    const G = tensorNorms([f64(3, 4), Float32Array.from([0, 0, 12]), f64()], out);
    expect(Array.from(out)).toEqual([5, 12, 0]);
    expect(G).toBe(13);
    expect(() => tensorNorms([f64(1), f64(1)], new Float64Array(1))).toThrow(RangeError);
    expect(tensorNorms([f64(1, Infinity)], out)).toBe(Infinity);
  });
});

describe('each clipping technique under its own name', () => {
  it('clipByValue, clipByNorm, clipByGlobalNorm (the functions clipGradients picks from)', async () => {
    const { clipByValue, clipByNorm, clipByGlobalNorm } = await import('../../src/core/index.js');
    const v = [Float64Array.of(3, -0.5, -2)];
    expect(clipByValue(v, 1)).toBe(true);
    expect(Array.from(v[0])).toEqual([1, -0.5, -1]);
    const n = [Float64Array.of(3, 4), Float64Array.of(0.3, 0.4)];
    expect(clipByNorm(n, 1)).toBe(true);
    expect(n[0][0]).toBeCloseTo(0.6, 15);
    expect(n[0][1]).toBeCloseTo(0.8, 15);
    expect(Array.from(n[1])).toEqual([0.3, 0.4]);
    const g = [Float64Array.of(3), Float64Array.of(4)];
    expect(clipByGlobalNorm(g, 2.5)).toBe(true);
    expect([g[0][0], g[1][0]]).toEqual([1.5, 2]);
    expect(clipByGlobalNorm([Float64Array.of(1)], 2)).toBe(false);
  });
});
