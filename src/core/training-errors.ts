import type { Checkpoint, ClipSpec, OptimizerType } from './types.js';

/** What went wrong when training diverged: a non-finite (or, for `loss`, exploded) value. */
export type DivergenceKind = 'loss' | 'gradient' | 'weights';

/** The hint of a divergence of a spec without clipping: the three usual cures. */
export const DIVERGENCE_HINT =
  "lower the learning rate, enable clipping (clip: {type:'global_norm', maxNorm: 1}), or change the init";

/** 4 significant digits, without trailing zeros. */
const num = (x: number) => String(Number(x.toPrecision(4)));

/**
 * The cures that fit the spec: clipping is suggested only when the spec does not clip; a spec
 * that clips is told to clip tighter (its threshold ÷ 10), since a non-finite gradient is never
 * clipped and a finite one was already bounded.
 */
export function divergenceHint(clip?: ClipSpec, lr?: string): string {
  const rate = lr ?? 'lower the learning rate';
  if (!clip) return lr === undefined ? DIVERGENCE_HINT : `${rate}, enable clipping (clip: {type:'global_norm', maxNorm: 1}), or change the init`;
  const field = clip.type === 'value' ? 'value' : 'maxNorm';
  const c = clip.type === 'value' ? clip.value : clip.maxNorm;
  const tighter = c !== undefined ? `clip tighter (clip.${field} is ${num(c)}; try ${num(c / 10)})` : 'clip tighter';
  return `${rate}, ${tighter}, or change the init`;
}

/** Usual learning rates per optimizer, quoted when the loss explodes (docs/optimizers.md defaults sit inside). */
const USUAL_LEARNING_RATES: Record<OptimizerType, [number, number]> = {
  sgd: [0.01, 0.1],
  momentum: [0.001, 0.05],
  rmsprop: [0.0001, 0.01],
  adam: [0.0001, 0.01],
  adamw: [0.0001, 0.01],
};

/** The numbers behind a loss explosion (finite values that grew past the limit). */
export interface LossGrowth {
  /** Mean training loss at init, before any update. */
  initialLoss: number;
  /** The epoch's mean training loss that crossed the limit. */
  loss: number;
  /** The growth factor of the limit (`maxLossGrowth`). */
  factor: number;
  /** Learning rate of that epoch. */
  learningRate: number;
  optimizer: OptimizerType;
}

function explain(epoch: number, what: DivergenceKind, g: LossGrowth | undefined, clip: ClipSpec | undefined): string {
  if (!g) return `the ${what === 'gradient' ? 'gradient norm is' : what === 'weights' ? 'weights are' : 'loss is'} not finite; ${divergenceHint(clip)}`;
  const ratio = g.loss / g.initialLoss;
  const [lo, hi] = USUAL_LEARNING_RATES[g.optimizer];
  const lr = g.learningRate > hi
    ? `the learning rate ${num(g.learningRate)} is probably too high; lower it (try ${lo}–${hi} for ${g.optimizer})`
    : `lower the learning rate (now ${num(g.learningRate)})`;
  return (
    `the training loss grew from ${num(g.initialLoss)} at the start to ${num(g.loss)} by epoch ${epoch} ` +
    `(× ${ratio >= 10 ? Math.round(ratio) : num(ratio)}, over the limit of ${num(g.factor)} × max(start loss, 1)): ` +
    divergenceHint(clip, lr)
  );
}

/**
 * Training stopped because the loss, the gradient or the weights became non-finite (NaN or
 * ±Infinity), or because an epoch's mean training loss grew past `maxLossGrowth` × max(loss at
 * init, 1) (`what: 'loss'` with {@link growth}). No weights are returned: a diverged run never
 * yields a model.
 */
export class DivergenceError extends Error {
  readonly code = 'DIVERGED';
  /** The cures that fit the spec (see {@link divergenceHint}). */
  readonly hint: string;
  constructor(
    /** Epoch (0-based) of the step that diverged. */
    readonly epoch: number,
    /** Step within the epoch (1-based); the epoch's last step when the epoch's loss exploded. */
    readonly step: number,
    readonly what: DivergenceKind,
    /** Set when the loss stayed finite but exploded. */
    readonly growth?: LossGrowth,
    /** The spec's clipping, so the hint does not suggest what the spec already does. */
    clip?: ClipSpec,
  ) {
    super(`training diverged at epoch ${epoch}, step ${step}: ${explain(epoch, what, growth, clip)}`);
    this.hint = divergenceHint(clip);
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
