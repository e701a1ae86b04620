import type { OptimizerSpec } from '../types.js';
import { Adam } from './adam.js';

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
    super(spec, 0.01);
    this.decoupled = this.weightDecay;
  }
}
