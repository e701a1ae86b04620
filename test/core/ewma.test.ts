import { describe, expect, it } from 'vitest';
import { Ewma } from '../../src/core/ewma.js';

describe('Ewma', () => {
  it('v_t = βv + (1−β)x from v_0 = 0, corrected v_t/(1−β^t)', () => {
    const e = new Ewma(0.5);
    expect(e.corrected).toBeNaN();
    // x=4: v=2,        corrected 2/0.5 = 4
    // x=8: v=1+4=5,    corrected 5/0.75 = 20/3
    // x=2: v=2.5+1=3.5, corrected 3.5/0.875 = 4
    e.push(4);
    expect([e.value, e.corrected]).toEqual([2, 4]);
    e.push(8);
    expect(e.value).toBe(5);
    expect(e.corrected).toBeCloseTo(20 / 3, 15);
    e.push(2);
    expect(e.value).toBe(3.5);
    expect(e.corrected).toBeCloseTo(4, 15);
    expect(e.count).toBe(3);
  });

  it('bias correction makes a constant series read as the constant from the first value', () => {
    const e = new Ewma(0.9);
    for (let t = 1; t <= 50; t++) {
      e.push(3);
      expect(e.corrected).toBeCloseTo(3, 12);
    }
    // while the raw value starts at 0.3 and only approaches 3
    expect(e.value).toBeCloseTo(3 * (1 - 0.9 ** 50), 12);
  });

  it('state()/load() round trip continues identically', () => {
    const a = new Ewma(0.8);
    [1, 5, 2].forEach((x) => a.push(x));
    const b = new Ewma(0.8);
    b.load(structuredClone(a.state()));
    a.push(7);
    b.push(7);
    expect(b.value).toBe(a.value);
    expect(b.corrected).toBe(a.corrected);
    expect(() => new Ewma(0.5).load(a.state())).toThrow(TypeError);
  });

  it('rejects β outside [0, 1)', () => {
    expect(() => new Ewma(1)).toThrow(RangeError);
    expect(() => new Ewma(-0.1)).toThrow(RangeError);
  });
});
