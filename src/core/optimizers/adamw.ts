import type { OptimizerSpec } from '../types.js';
import { Adam, ADAM_FIELDS } from './adam.js';
import { weightDecayField } from './optimizer-base.js';

/** The parameters `optimizer: {type: 'adamw'}` takes: Adam's, with decoupled weight decay 0.01 by default. */
export const ADAMW_FIELDS = {
  ...ADAM_FIELDS,
  weightDecay: weightDecayField(0.01, 'decoupled weight decay λ: W ← W(1 − αλ) before the Adam update. Default 0.01'),
} as const;

/**
 * AdamW (Loshchilov & Hutter), as `torch.optim.AdamW`: the weight decay is decoupled from the
 * gradient and scaled by the learning rate, `W ← W·(1 − α·λ)`, then the Adam update with the
 * raw gradient (moments never see λW). So one step is
 * `W ← W(1 − αλ) − α m̂ / (sqrt(v̂) + ε)` with m̂, v̂ as in {@link Adam}.
 * Defaults: `learningRate` 0.001, `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-8, `weightDecay` λ 0.01.
 */
export class AdamW extends Adam {
  override readonly type = 'adamw' as const;

  constructor(spec: OptimizerSpec) {
    super(spec, ADAMW_FIELDS);
    this.decoupled = this.weightDecay;
  }
}
