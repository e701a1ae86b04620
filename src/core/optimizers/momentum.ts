import type { Buf, OptimizerSpec } from '../types.js';
import { OptimizerBase } from './optimizer-base.js';
import { learningRateField, weightDecayField } from './optimizer-base.js';
import { booleanField, coefficientField, enumField, readField } from '../spec-fields.js';
import { MOMENTUM_VARIANTS } from '../types.js';

/** The parameters `optimizer: {type: 'momentum'}` takes. */
export const MOMENTUM_FIELDS = {
  learningRate: learningRateField(0.01),
  beta: coefficientField(0.9, 'ema variant: averaging coefficient β in v = βv + (1−β)g (momentum is used when beta is absent). Default 0.9'),
  momentum: coefficientField(0.9, 'classic variant: μ in v = μv + g. Default 0.9'),
  variant: enumField(MOMENTUM_VARIANTS, 'classic', 'classic (v = μv + g) or ema (the notes: v = βv + (1−β)g). Default classic'),
  nesterov: booleanField(false, 'Nesterov look-ahead. Default false'),
  weightDecay: weightDecayField(0),
} as const;

const SLOTS: readonly string[] = ['v'];

/**
 * Gradient descent with momentum, in two forms (g includes the L2 term `λW` when `weightDecay` > 0):
 *
 * - `variant: "classic"` (default; PyTorch `SGD(momentum=μ)`, Keras `SGD(momentum)` up to where
 *   α sits): `v = μv + g`, `W −= αv`. μ is `momentum`, default 0.9.
 *   With `nesterov`: `v = μv + g`, `W −= α(g + μv)` (PyTorch's formulation).
 * - `variant: "ema"` (the notes' form): `v = βv + (1−β)g`, `W −= αv`. β is `beta`, default 0.9
 *   (`momentum` is accepted when `beta` is absent). Its steps are (1−β) times the classic ones
 *   for the same α and coefficient. With `nesterov`, by analogy: `v = βv + (1−β)g`,
 *   `W −= α(βv + (1−β)g)`, i.e. the EMA advanced one more step with the current gradient.
 *
 * Momentum averages gradients, so oscillating components cancel and consistent ones add up; it
 * does not make the learning rate "adaptive" per parameter, as the notes loosely say.
 * Defaults: `learningRate` 0.01, `nesterov` false, `weightDecay` 0.
 */
export class Momentum extends OptimizerBase {
  readonly type = 'momentum' as const;
  readonly variant: 'ema' | 'classic';
  readonly nesterov: boolean;
  /** μ (classic) or β (ema). */
  readonly coefficient: number;

  constructor(spec: OptimizerSpec) {
    super(spec, MOMENTUM_FIELDS);
    const f = MOMENTUM_FIELDS;
    const variant = readField('optimizer.variant', f.variant, spec.variant);
    this.variant = variant;
    this.nesterov = readField('optimizer.nesterov', f.nesterov, spec.nesterov);
    const useMomentum = variant === 'classic' || (spec.beta === undefined && spec.momentum !== undefined);
    this.coefficient = useMomentum ? readField('optimizer.momentum', f.momentum, spec.momentum) : readField('optimizer.beta', f.beta, spec.beta);
  }

  protected slotNames(): readonly string[] {
    return SLOTS;
  }

  protected updateTensor(i: number, w: Buf, g: Buf, lr: number): void {
    const v = this.slots[0][i];
    const wd = this.weightDecay;
    const mu = this.coefficient;
    // classic: v = μv + 1·g; ema: v = βv + (1−β)g
    const gain = this.variant === 'classic' ? 1 : 1 - mu;
    const nesterov = this.nesterov;
    if (this.kernels?.momentumUpdate?.(w, g, v, mu, gain, wd, lr, nesterov)) return;
    for (let j = 0; j < w.length; j++) {
      const wj = w[j];
      const gj = g[j] + wd * wj;
      const vj = mu * v[j] + gain * gj;
      v[j] = vj;
      w[j] = wj - lr * (nesterov ? mu * vj + gain * gj : vj);
    }
  }
}
