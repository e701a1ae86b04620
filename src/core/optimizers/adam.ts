import type { AdamCoefficients } from '../kernels/types.js';
import type { Buf, OptimizerSpec } from '../types.js';
import { learningRateField, OptimizerBase, weightDecayField } from './optimizer-base.js';
import { booleanField, coefficientField, positiveField, readField } from '../spec-fields.js';

/** The parameters `optimizer: {type: 'adam'}` takes (AdamW: the same, its own weight decay). */
export const ADAM_FIELDS = {
  learningRate: learningRateField(0.001),
  beta1: coefficientField(0.9, 'first-moment coefficient β1. Default 0.9'),
  beta2: coefficientField(0.999, 'second-moment coefficient β2. Default 0.999'),
  epsilon: positiveField(1e-8, 'added to the denominator, outside the square root. Default 1e-8'),
  weightDecay: weightDecayField(0),
  amsgrad: booleanField(false, 'AMSGrad: divide by the running maximum of the second moment, v̂ₜ = max(v̂ₜ₋₁, vₜ), so no step grows from a shrinking v. Default false'),
} as const;

const SLOTS: readonly string[] = ['m', 'v'];
const AMSGRAD_SLOTS: readonly string[] = ['m', 'v', 'vmax'];

/**
 * Adam (Kingma & Ba), with `t` the step count starting at 1:
 * ```
 * m = β1 m + (1−β1) g        v = β2 v + (1−β2) g²
 * m̂ = m / (1 − β1^t)         v̂ = v / (1 − β2^t)
 * W −= α m̂ / (sqrt(v̂) + ε)
 * ```
 * With `amsgrad` (Reddi et al., as `torch.optim.Adam(amsgrad=True)`): `v̂max = max(v̂max, v)` is
 * kept per element and the step divides by `sqrt(v̂max / (1 − β2^t)) + ε`, so a shrinking `v`
 * never enlarges a step.
 * The notes write the correction as `1 − β`: with the exponent `t` it fades as t grows, without
 * it every step stays scaled by a constant. `weightDecay` λ > 0 adds `λW` to g (L2, like
 * `torch.optim.Adam(weight_decay)`); for decoupled decay use {@link AdamW}.
 * Defaults: `learningRate` 0.001, `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-8, `weightDecay` 0.
 */
export class Adam extends OptimizerBase {
  readonly type: 'adam' | 'adamw' = 'adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly amsgrad: boolean;
  /** Decoupled decay factor applied to W before the Adam update (AdamW); 0 for Adam. */
  protected decoupled = 0;
  private correction1 = 1;
  private correction2 = 1;
  /** Reused argument of the fused update (no allocation per step). */
  private readonly coefficients: AdamCoefficients = { beta1: 0, beta2: 0, epsilon: 0, lr: 0, c1: 1, c2: 1, l2: 0, shrink: 1 };

  constructor(spec: OptimizerSpec, fields: typeof ADAM_FIELDS = ADAM_FIELDS) {
    super(spec, fields);
    this.beta1 = readField('optimizer.beta1', fields.beta1, spec.beta1);
    this.beta2 = readField('optimizer.beta2', fields.beta2, spec.beta2);
    this.epsilon = readField('optimizer.epsilon', fields.epsilon, spec.epsilon);
    this.amsgrad = readField('optimizer.amsgrad', fields.amsgrad, spec.amsgrad);
  }

  protected slotNames(): readonly string[] {
    return this.amsgrad ? AMSGRAD_SLOTS : SLOTS;
  }

  protected override beginStep(t: number): void {
    this.correction1 = 1 - Math.pow(this.beta1, t);
    this.correction2 = 1 - Math.pow(this.beta2, t);
  }

  protected updateTensor(i: number, w: Buf, g: Buf, lr: number): void {
    const m = this.slots[0][i];
    const v = this.slots[1][i];
    const { beta1: b1, beta2: b2, epsilon: eps, correction1: c1, correction2: c2 } = this;
    // Adam: L2 in the gradient; AdamW: none there, decay W directly (decay = α·λ)
    const l2 = this.decoupled > 0 ? 0 : this.weightDecay;
    const shrink = 1 - lr * this.decoupled;
    if (this.amsgrad) return this.amsgradUpdate(w, g, m, v, this.slots[2][i], lr, l2, shrink);
    if (this.kernels?.adamUpdate) {
      const c = this.coefficients;
      c.beta1 = b1; c.beta2 = b2; c.epsilon = eps; c.lr = lr; c.c1 = c1; c.c2 = c2; c.l2 = l2; c.shrink = shrink;
      if (this.kernels.adamUpdate(w, g, m, v, c)) return;
    }
    for (let j = 0; j < w.length; j++) {
      const wj = w[j];
      const gj = g[j] + l2 * wj;
      const mj = b1 * m[j] + (1 - b1) * gj;
      const vj = b2 * v[j] + (1 - b2) * gj * gj;
      m[j] = mj;
      v[j] = vj;
      w[j] = wj * shrink - (lr * (mj / c1)) / (Math.sqrt(vj / c2) + eps);
    }
  }

  /** The AMSGrad form of the update (no fused kernel: plain loops, float64 arithmetic). */
  private amsgradUpdate(w: Buf, g: Buf, m: Buf, v: Buf, vmax: Buf, lr: number, l2: number, shrink: number): void {
    const { beta1: b1, beta2: b2, epsilon: eps, correction1: c1, correction2: c2 } = this;
    for (let j = 0; j < w.length; j++) {
      const wj = w[j];
      const gj = g[j] + l2 * wj;
      const mj = b1 * m[j] + (1 - b1) * gj;
      const vj = b2 * v[j] + (1 - b2) * gj * gj;
      const vm = Math.max(vmax[j], vj);
      m[j] = mj;
      v[j] = vj;
      vmax[j] = vm;
      w[j] = wj * shrink - (lr * (mj / c1)) / (Math.sqrt(vm / c2) + eps);
    }
  }
}
