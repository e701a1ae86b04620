import { describe, expect, it } from 'vitest';
import { applyParams, expandTrials, rungEpochs, SearchSpaceError } from '../../src/sweeps/search-space.js';

describe('search space', () => {
  it('grid: the product of the values, last parameter fastest', () => {
    const t = expandTrials({ method: 'grid', parameters: { a: { values: [1, 2] }, b: { values: ['x', 'y', 'z'] } } });
    expect(t).toEqual([{ a: 1, b: 'x' }, { a: 1, b: 'y' }, { a: 1, b: 'z' }, { a: 2, b: 'x' }, { a: 2, b: 'y' }, { a: 2, b: 'z' }]);
  });

  it('grid: refuses distributions and sizes over the cap, naming the field', () => {
    expect(() => expandTrials({ method: 'grid', parameters: { lr: { distribution: 'uniform', min: 0, max: 1 } } })).toThrow(SearchSpaceError);
    try {
      expandTrials({ method: 'grid', maxTrials: 3, parameters: { a: { values: [1, 2] }, b: { values: [1, 2] } } });
    } catch (e) {
      expect((e as SearchSpaceError).path).toBe('maxTrials');
    }
  });

  it('random: seeded and reproducible, each draw within its distribution', () => {
    const space = {
      method: 'random' as const,
      maxTrials: 200,
      seed: 9,
      parameters: {
        lr: { distribution: 'log_uniform' as const, min: 1e-4, max: 1e-1 },
        units: { distribution: 'int_uniform' as const, min: 4, max: 6 },
        drop: { distribution: 'uniform' as const, min: -1, max: 1 },
        opt: { values: ['sgd', 'adam'] },
      },
    };
    const a = expandTrials(space);
    expect(expandTrials(space)).toEqual(a);
    expect(expandTrials({ ...space, seed: 10 })).not.toEqual(a);
    for (const t of a) {
      expect(t.lr as number).toBeGreaterThanOrEqual(1e-4);
      expect(t.lr as number).toBeLessThan(1e-1);
      expect([4, 5, 6]).toContain(t.units);
      expect(t.drop as number).toBeGreaterThanOrEqual(-1);
      expect(['sgd', 'adam']).toContain(t.opt);
    }
    // every integer and value is drawn; log-uniform puts about a third of the draws in each decade
    expect(new Set(a.map((t) => t.units)).size).toBe(3);
    const lowDecade = a.filter((t) => (t.lr as number) < 1e-3).length;
    expect(lowDecade).toBeGreaterThan(40);
    expect(lowDecade).toBeLessThan(95);
    expect(() => expandTrials({ method: 'random', parameters: { a: { values: [1] } } })).toThrow(/required for method 'random'/);
    expect(() => expandTrials({ method: 'random', maxTrials: 2, parameters: { a: { distribution: 'uniform', min: 2, max: 1 } } })).toThrow(/greater than min/);
  });

  it('applyParams sets dotted paths (array indices, null removes) without touching the base', () => {
    const base = { optimizer: { type: 'sgd', learningRate: 0.1 }, model: { layers: [{ units: 4 }, { units: 1 }] }, clip: { type: 'norm', maxNorm: 1 } };
    const out = applyParams(base, { 'optimizer.type': 'adam', 'model.layers.0.units': 32, clip: null, 'schedule.type': 'constant' });
    expect(out).toEqual({ optimizer: { type: 'adam', learningRate: 0.1 }, model: { layers: [{ units: 32 }, { units: 1 }] }, schedule: { type: 'constant' } });
    expect(base.optimizer.type).toBe('sgd');
    expect(() => applyParams(base, { 'model.layers.5.units': 3 })).toThrow(/index 5 does not exist/);
    expect(() => applyParams(base, { 'optimizer.type.x': 3 })).toThrow(/not an object/);
  });

  it('rungs at minEpochs · eta^k below the epochs', () => {
    expect(rungEpochs(2, 3, 18)).toEqual([2, 6]);
    expect(rungEpochs(1, 2, 9)).toEqual([1, 2, 4, 8]);
    expect(rungEpochs(5, 3, 5)).toEqual([]);
  });
});
