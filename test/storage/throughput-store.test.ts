import { describe, expect, it } from 'vitest';
import { DEFAULT_FLOPS_PER_SECOND, rateFor, sizeClass } from '../../src/storage/throughput-store.js';

describe('rateFor: the expected FLOP/s of a model size from the measured size classes', () => {
  const m = { rates: new Map([[10, 1e8], [14, 1.6e9]]), overheadSeconds: 0.05, trainers: 2 };

  it('uses the measured class, interpolates log-log between two, takes the nearest outside, the default with none', () => {
    expect(sizeClass(1024)).toBe(10);
    expect(rateFor(m, 1000)).toEqual({ flopsPerSecond: 1e8, source: 'measured', trainers: 2 });
    // class 12 is halfway between 10 and 14: the geometric mean of their rates
    const mid = rateFor(m, 4096);
    expect(mid.source).toBe('interpolated');
    expect(mid.flopsPerSecond).toBeCloseTo(4e8, -3);
    expect(rateFor(m, 2 ** 20)).toMatchObject({ flopsPerSecond: 1.6e9, source: 'nearest' });
    expect(rateFor(m, 8)).toMatchObject({ flopsPerSecond: 1e8, source: 'nearest' });
    expect(rateFor({ rates: new Map(), overheadSeconds: 0, trainers: 0 }, 100)).toEqual({ flopsPerSecond: DEFAULT_FLOPS_PER_SECOND, source: 'default', trainers: 0 });
  });
});
