import type { EpochMetrics } from './types.js';

/** A history row as cores before `gradNormMean`/`clippedSteps` wrote it (in their checkpoints and stored results). */
export interface EpochMetricsOfOlderCores extends Omit<EpochMetrics, 'gradNormMean' | 'clippedSteps'> {
  /** The epoch mean of the gradient norm, now `gradNormMean`. */
  gradNorm: number;
  /** The running count of clipped steps, now `clippedSteps`. */
  clipped: number;
}

/**
 * A history row under this core's names, whichever core wrote it: a row of an older core
 * (`gradNorm`, `clipped`) gets `gradNormMean` and `clippedSteps` instead, in the same places; a
 * current row is returned as it is.
 */
export function epochMetricsOfAnyCore(row: EpochMetrics | EpochMetricsOfOlderCores): EpochMetrics {
  if (!('gradNorm' in row) || 'gradNormMean' in row) return row as EpochMetrics;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'gradNorm') out.gradNormMean = v;
    else if (k === 'clipped') out.clippedSteps = v;
    else out[k] = v;
  }
  return out as unknown as EpochMetrics;
}
