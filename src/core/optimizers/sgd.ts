import type { Buf, OptimizerSpec } from '../types.js';
import { learningRateField, OptimizerBase, weightDecayField } from './optimizer-base.js';

/** The parameters `optimizer: {type: 'sgd'}` takes. */
export const SGD_FIELDS = {
  learningRate: learningRateField(0.01),
  weightDecay: weightDecayField(0),
} as const;

const NO_SLOTS: readonly string[] = [];

/**
 * Plain (mini-batch) gradient descent: `W −= α (g + λW)`.
 * Defaults: `learningRate` 0.01, `weightDecay` λ 0 (L2 added to the gradient).
 */
export class Sgd extends OptimizerBase {
  readonly type = 'sgd' as const;

  constructor(spec: OptimizerSpec) {
    super(spec, SGD_FIELDS);
  }

  protected slotNames(): readonly string[] {
    return NO_SLOTS;
  }

  protected updateTensor(_i: number, w: Buf, g: Buf, lr: number): void {
    const wd = this.weightDecay;
    for (let j = 0; j < w.length; j++) {
      const wj = w[j];
      w[j] = wj - lr * (g[j] + wd * wj);
    }
  }
}
