import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from '../../src/core/errors.js';
import { learningRateAt } from '../../src/core/schedules.js';
import type { ScheduleSpec } from '../../src/core/types.js';

describe('learningRateAt (epoch from 0)', () => {
  it('constant and no schedule give α0', () => {
    expect(learningRateAt(undefined, 0.1, 7)).toBe(0.1);
    expect(learningRateAt({ type: 'constant' }, 0.1, 7)).toBe(0.1);
  });

  it('inverse_time: α0/(1 + decayRate·e)', () => {
    const s: ScheduleSpec = { type: 'inverse_time', decayRate: 0.5 };
    expect(learningRateAt(s, 0.1, 0)).toBe(0.1);
    expect(learningRateAt(s, 0.1, 1)).toBeCloseTo(0.1 / 1.5, 16);
    expect(learningRateAt(s, 0.1, 2)).toBeCloseTo(0.05, 16);
    expect(learningRateAt(s, 0.1, 4)).toBeCloseTo(0.1 / 3, 16);
  });

  it('inverse_sqrt: k·α0/sqrt(e+1), k default 1', () => {
    expect(learningRateAt({ type: 'inverse_sqrt', k: 2 }, 0.1, 0)).toBeCloseTo(0.2, 16);
    expect(learningRateAt({ type: 'inverse_sqrt', k: 2 }, 0.1, 3)).toBeCloseTo(0.1, 16);
    expect(learningRateAt({ type: 'inverse_sqrt', k: 2 }, 0.1, 8)).toBeCloseTo(0.2 / 3, 16);
    expect(learningRateAt({ type: 'inverse_sqrt' }, 0.1, 3)).toBeCloseTo(0.05, 16);
  });

  it('exponential: α0·γ^e', () => {
    const s: ScheduleSpec = { type: 'exponential', gamma: 0.5 };
    expect(learningRateAt(s, 0.1, 0)).toBe(0.1);
    expect(learningRateAt(s, 0.1, 3)).toBeCloseTo(0.0125, 16);
  });

  it('step: α0·γ^floor(e/stepSize)', () => {
    const s: ScheduleSpec = { type: 'step', gamma: 0.1, stepSize: 10 };
    expect(learningRateAt(s, 0.1, 0)).toBe(0.1);
    expect(learningRateAt(s, 0.1, 9)).toBe(0.1);
    expect(learningRateAt(s, 0.1, 10)).toBeCloseTo(0.01, 16);
    expect(learningRateAt(s, 0.1, 25)).toBeCloseTo(0.001, 16);
  });

  it('rejects bad parameters with the field path', () => {
    const bad: [ScheduleSpec, string][] = [
      [{ type: 'inverse_time' }, 'schedule.decayRate'],
      [{ type: 'inverse_time', decayRate: -1 }, 'schedule.decayRate'],
      [{ type: 'inverse_sqrt', k: 0 }, 'schedule.k'],
      [{ type: 'exponential' }, 'schedule.gamma'],
      [{ type: 'exponential', gamma: 1.5 }, 'schedule.gamma'],
      [{ type: 'step', gamma: 0.5 }, 'schedule.stepSize'],
      [{ type: 'step', gamma: 0.5, stepSize: 2.5 }, 'schedule.stepSize'],
      [{ type: 'step', gamma: 0, stepSize: 2 }, 'schedule.gamma'],
      [{ type: 'cosine' as 'step' }, 'schedule.type'],
    ];
    for (const [s, path] of bad) {
      let e: unknown;
      try {
        learningRateAt(s, 0.1, 0);
      } catch (err) {
        e = err;
      }
      expect(e, path).toBeInstanceOf(InvalidSpecError);
      expect((e as InvalidSpecError).path).toBe(path);
    }
    expect(() => learningRateAt(undefined, 0, 0)).toThrow(InvalidSpecError);
    expect(() => learningRateAt(undefined, 0.1, -1)).toThrow(RangeError);
  });
});
