import { InvalidSpecError } from './errors.js';
import type { Activation, Buf, InitName, Rng } from './types.js';
import { INITS } from './types.js';

/**
 * Standard deviation `s` of an init (techniques.md §4): LeCun `sqrt(1/fanIn)`, He
 * `sqrt(2/fanIn)`, Xavier/Glorot `sqrt(2/(fanIn+fanOut))`. Uniform variants share it.
 */
export function initStd(init: InitName, fanIn: number, fanOut: number): number {
  switch (init) {
    case 'lecun_normal':
    case 'lecun_uniform':
      return Math.sqrt(1 / fanIn);
    case 'he_normal':
    case 'he_uniform':
      return Math.sqrt(2 / fanIn);
    case 'xavier_normal':
    case 'xavier_uniform':
      return Math.sqrt(2 / (fanIn + fanOut));
  }
}

/**
 * Fills a `fanIn × fanOut` weight tensor (row-major `[fanIn][fanOut]`) with zero-mean random
 * values: `*_normal` draws `N(0, s²)`, `*_uniform` draws `U(−l, l)` with `l = sqrt(3)·s` (same
 * variance). The notes' code uses `np.random.rand`, uniform on [0, 1) and all positive: a slip,
 * weights must be zero-mean. Values are drawn in float64 in the same order whatever the dtype of
 * `out`, so a float32 and a float64 run start from the same (rounded) weights.
 *
 * @param out - buffer of `fanIn·fanOut` elements to fill; default a new `Float64Array`.
 * @throws InvalidSpecError (`model.init`) for an unknown init name, RangeError for bad sizes.
 */
export function initialize(init: InitName, fanIn: number, fanOut: number, rng: Rng, out?: Buf): Buf {
  if (!INITS.includes(init)) throw new InvalidSpecError('model.init', `model.init must be one of ${INITS.join(', ')}, got ${String(init)}`);
  if (!Number.isInteger(fanIn) || fanIn < 1 || !Number.isInteger(fanOut) || fanOut < 1) {
    throw new RangeError(`initialize: fanIn and fanOut must be positive integers, got ${fanIn}×${fanOut}`);
  }
  const n = fanIn * fanOut;
  const w = out ?? new Float64Array(n);
  if (w.length !== n) throw new RangeError(`initialize: out has ${w.length} elements, expected ${fanIn}×${fanOut} = ${n}`);
  const s = initStd(init, fanIn, fanOut);
  if (init.endsWith('_uniform')) {
    const l = Math.sqrt(3) * s;
    for (let i = 0; i < n; i++) w[i] = (2 * rng.next() - 1) * l;
  } else {
    for (let i = 0; i < n; i++) w[i] = rng.normal() * s;
  }
  return w;
}

/** The init used when `model.init` is absent: `he_normal` for ReLU-like activations, `xavier_normal` otherwise. */
export function defaultInit(activation: Activation): InitName {
  return activation === 'relu' || activation === 'leaky_relu' ? 'he_normal' : 'xavier_normal';
}
