/** What {@link Ewma.state} returns. */
export interface EwmaState {
  beta: number;
  value: number;
  count: number;
}

/**
 * Exponentially weighted moving average `v_t = β v_{t−1} + (1 − β) x_t`, `v_0 = 0`; it averages
 * roughly the last `1/(1 − β)` values. `corrected` removes the bias toward `v_0 = 0`:
 * `v̂_t = v_t / (1 − β^t)`.
 */
export class Ewma {
  private v = 0;
  private t = 0;

  /** @param beta - in [0, 1); default 0.9 (about the last 10 values). */
  constructor(readonly beta = 0.9) {
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`Ewma: beta must be in [0, 1), got ${beta}`);
  }

  push(x: number): void {
    this.v = this.beta * this.v + (1 - this.beta) * x;
    this.t++;
  }

  /** Raw `v_t` (biased toward 0 for small t). */
  get value(): number {
    return this.v;
  }

  /** Number of values pushed. */
  get count(): number {
    return this.t;
  }

  /** Bias-corrected `v_t / (1 − β^t)`; NaN before the first `push` (there is no value yet). */
  get corrected(): number {
    return this.t === 0 ? Number.NaN : this.v / (1 - Math.pow(this.beta, this.t));
  }

  state(): EwmaState {
    return { beta: this.beta, value: this.v, count: this.t };
  }

  load(state: unknown): void {
    const s = state as Partial<EwmaState> | null;
    if (s === null || typeof s !== 'object' || s.beta !== this.beta || typeof s.value !== 'number' || !Number.isInteger(s.count) || (s.count as number) < 0) {
      throw new TypeError(`Ewma.load: not the state of an Ewma with beta ${this.beta}`);
    }
    this.v = s.value;
    this.t = s.count as number;
  }
}
