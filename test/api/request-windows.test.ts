import { describe, expect, it } from 'vitest';
import { RequestWindows } from '../../src/api/limits.js';

describe('RequestWindows (the rate limit counter)', () => {
  it('counts per bucket in fixed windows that start at the first request after the last one ended', () => {
    const w = new RequestWindows(1000);
    expect(w.hit('a', 0)).toEqual({ count: 1, resetAt: 1000 });
    expect(w.hit('a', 500)).toEqual({ count: 2, resetAt: 1000 });
    expect(w.hit('b', 600)).toEqual({ count: 1, resetAt: 1600 });
    expect(w.hit('a', 999)).toEqual({ count: 3, resetAt: 1000 });
    // the window ended: a new one from this request
    expect(w.hit('a', 1000)).toEqual({ count: 1, resetAt: 2000 });
    expect(w.hit('b', 1599)).toEqual({ count: 2, resetAt: 1600 });
  });

  it('keeps at most maxBuckets buckets, dropping the oldest window first', () => {
    const w = new RequestWindows(10_000, 3);
    w.hit('a', 0);
    w.hit('b', 1);
    w.hit('c', 2);
    w.hit('a', 3); // same window: a stays the oldest
    w.hit('d', 4); // a goes
    expect(w.size).toBe(3);
    expect(w.hit('a', 5).count).toBe(1);
    // b went for a; c and d still count on
    expect(w.hit('c', 6).count).toBe(2);
    expect(w.hit('d', 7).count).toBe(2);
    expect(w.size).toBe(3);
  });
});
