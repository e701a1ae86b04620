import type { Checkpoint } from './types.js';

/** What went non-finite when training diverged. */
export type DivergenceKind = 'loss' | 'gradient' | 'weights';

/** The hint every divergence carries: the three usual cures. */
export const DIVERGENCE_HINT =
  "lower the learning rate, enable clipping (clip: {type:'global_norm', maxNorm: 1}), or change the init";

/**
 * Training stopped because the loss, the gradient or the weights became non-finite (NaN or
 * ±Infinity). No weights are returned: a diverged run never yields a model full of NaN.
 */
export class DivergenceError extends Error {
  readonly code = 'DIVERGED';
  readonly hint = DIVERGENCE_HINT;
  constructor(
    /** Epoch (0-based) of the step that diverged. */
    readonly epoch: number,
    /** Step within the epoch (1-based). */
    readonly step: number,
    readonly what: DivergenceKind,
  ) {
    super(`training diverged at epoch ${epoch}, step ${step}: the ${what === 'gradient' ? 'gradient norm' : what} is not finite; ${DIVERGENCE_HINT}`);
    this.name = 'DivergenceError';
  }
}

/** `train` was stopped through its `AbortSignal`; `checkpoint` resumes exactly where it stopped. */
export class TrainingAbortedError extends Error {
  readonly code = 'ABORTED';
  constructor(readonly checkpoint: Checkpoint) {
    super(`training aborted at epoch ${checkpoint.epoch}, step ${checkpoint.step}`);
    this.name = 'TrainingAbortedError';
  }
}
