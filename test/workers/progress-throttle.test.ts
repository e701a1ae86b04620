import { describe, expect, it } from 'vitest';
import { ProgressThrottle } from '../../workers/progress-throttle.js';

const step = (epoch: number) => ({ kind: 'step' as const, epoch, epochs: 4 });
const end = (epoch: number) => ({ kind: 'epoch' as const, epoch, epochs: 4 });

describe('ProgressThrottle', () => {
  it('long epochs: every epoch end is sent although step events come every interval (QA: 1 epoch event in 4)', () => {
    // Epochs of 2,200 ms, a step event every 100 ms (the core's progressEveryMs = interval).
    const t = new ProgressThrottle(100);
    const sentEnds: number[] = [];
    let steps = 0;
    for (let e = 0; e < 4; e++) {
      for (let ms = 100; ms < 2200; ms += 100) if (t.shouldSend(step(e), e * 2200 + ms)) steps++;
      if (t.shouldSend(end(e), e * 2200 + 2200 + 10)) sentEnds.push(e); // 10 ms after the last step event
    }
    expect(sentEnds).toEqual([0, 1, 2, 3]);
    expect(steps).toBeGreaterThan(70);
  });

  it('tiny epochs: at most one epoch end per interval, the last one always', () => {
    const t = new ProgressThrottle(100);
    const sent: number[] = [];
    for (let e = 0; e < 4; e++) if (t.shouldSend(end(e), e * 10)) sent.push(e);
    expect(sent).toEqual([0, 3]);
  });

  it('step events: at most one per interval, and none right after an epoch end', () => {
    const t = new ProgressThrottle(100);
    expect(t.shouldSend(step(0), 0)).toBe(true);
    expect(t.shouldSend(step(0), 50)).toBe(false);
    expect(t.shouldSend(step(0), 100)).toBe(true);
    expect(t.shouldSend(end(0), 120)).toBe(true);
    expect(t.shouldSend(step(1), 150)).toBe(false);
    expect(t.shouldSend(step(1), 220)).toBe(true);
  });
});
