import { describe, expect, it } from 'vitest';
import { RestartBackoff } from '../../scripts/supervisor.js';

describe('RestartBackoff', () => {
  it('waits 1 s, doubling to 30 s for a child that keeps crashing', () => {
    const b = new RestartBackoff();
    expect([...Array(8)].map(() => b.delayAfter(100))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts over at 1 s once a child stayed up a minute', () => {
    const b = new RestartBackoff();
    b.delayAfter(10);
    b.delayAfter(10);
    expect(b.delayAfter(59_999)).toBe(4000);
    expect(b.delayAfter(60_000)).toBe(1000);
    expect(b.delayAfter(5)).toBe(2000);
  });

  it('takes its limits as options', () => {
    const b = new RestartBackoff({ initialMs: 10, maxMs: 25, healthyAfterMs: 100 });
    expect([b.delayAfter(0), b.delayAfter(0), b.delayAfter(0), b.delayAfter(100)]).toEqual([10, 20, 25, 10]);
  });
});
