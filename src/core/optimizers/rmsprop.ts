import type { Buf, OptimizerSpec } from '../types.js';
import { learningRateField, OptimizerBase, weightDecayField } from './optimizer-base.js';
import { booleanField, coefficientField, positiveField, readField } from '../spec-fields.js';

/** The parameters `optimizer: {type: 'rmsprop'}` takes. */
export const RMSPROP_FIELDS = {
  learningRate: learningRateField(0.01),
  beta: coefficientField(0.9, 'averaging coefficient β of S = βS + (1−β)g². Default 0.9'),
  epsilon: positiveField(1e-8, 'added to the denominator, outside the square root. Default 1e-8'),
  momentum: coefficientField(0, 'momentum μ on the scaled step (0: none). Default 0'),
  centered: booleanField(false, 'divide by an estimate of the variance instead of the second moment. Default false'),
  weightDecay: weightDecayField(0),
} as const;

/**
 * RMSprop, with PyTorch's semantics (`torch.optim.RMSprop`) for its options:
 *
 * ```
 * S = βS + (1−β)g²
 * centered:  ḡ = βḡ + (1−β)g,   d = sqrt(max(S − ḡ², 0)) + ε     else  d = sqrt(S) + ε
 * momentum μ > 0:  b = μb + g/d,  W −= αb                          else  W −= α g/d
 * ```
 * ε sits outside the square root (PyTorch; TensorFlow's centered form puts it inside). The notes
 * omit ε: without it a first step with a zero gradient component divides 0 by 0.
 * `max(…, 0)` guards the centered variance against rounding below zero.
 * Defaults: `learningRate` 0.01, `beta` 0.9, `epsilon` 1e-8, `momentum` 0, `centered` false,
 * `weightDecay` 0 (L2 added to g).
 */
export class RmsProp extends OptimizerBase {
  readonly type = 'rmsprop' as const;
  readonly beta: number;
  readonly epsilon: number;
  readonly momentum: number;
  readonly centered: boolean;
  private readonly names: readonly string[];

  constructor(spec: OptimizerSpec) {
    super(spec, RMSPROP_FIELDS);
    const f = RMSPROP_FIELDS;
    this.beta = readField('optimizer.beta', f.beta, spec.beta);
    this.epsilon = readField('optimizer.epsilon', f.epsilon, spec.epsilon);
    this.momentum = readField('optimizer.momentum', f.momentum, spec.momentum);
    this.centered = readField('optimizer.centered', f.centered, spec.centered);
    // slot order: S, then ḡ (centered), then b (momentum)
    this.names = ['S', ...(this.centered ? ['gAvg'] : []), ...(this.momentum > 0 ? ['b'] : [])];
  }

  protected slotNames(): readonly string[] {
    return this.names;
  }

  protected updateTensor(i: number, w: Buf, g: Buf, lr: number): void {
    const S = this.slots[0][i];
    const gAvg = this.centered ? this.slots[1][i] : S;
    const b = this.momentum > 0 ? this.slots[this.centered ? 2 : 1][i] : S;
    const { beta, epsilon: eps, momentum: mu, centered, weightDecay: wd } = this;
    const useMomentum = mu > 0;
    for (let j = 0; j < w.length; j++) {
      const wj = w[j];
      const gj = g[j] + wd * wj;
      const sj = beta * S[j] + (1 - beta) * gj * gj;
      S[j] = sj;
      let d: number;
      if (centered) {
        const mj = beta * gAvg[j] + (1 - beta) * gj;
        gAvg[j] = mj;
        const variance = sj - mj * mj;
        d = Math.sqrt(variance > 0 ? variance : 0) + eps;
      } else {
        d = Math.sqrt(sj) + eps;
      }
      if (useMomentum) {
        const bj = mu * b[j] + gj / d;
        b[j] = bj;
        w[j] = wj - lr * bj;
      } else {
        w[j] = wj - (lr * gj) / d;
      }
    }
  }
}
