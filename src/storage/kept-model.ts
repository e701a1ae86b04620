import { modelFromCheckpoint } from '../core/model-from-checkpoint.js';
import { validationRows } from '../core/spec.js';
import type { Checkpoint, EpochMetrics, Model, TrainResult, TrainingSpec } from '../core/types.js';
import type { JobProgress, JobResult } from '../schemas/job.js';

/** What a stopped job keeps from a checkpoint: model, metrics, result figures and a progress that agrees with them. */
export interface KeptModel {
  artifacts: { model: Model; history: EpochMetrics[] };
  result: JobResult;
  progress: JobProgress;
  /** For messages: `the model after epoch 954 (955 epochs finished, weightsHash …) and its metrics are kept`. */
  summary: string;
}

/** Optimizer steps per epoch of `spec` on `rows` rows (the training rows after the held-out split). */
export function stepsPerEpochOf(spec: Pick<TrainingSpec, 'batchSize' | 'validationSplit'>, rows: number): number {
  return Math.ceil((rows - validationRows(rows, spec.validationSplit ?? 0)) / spec.batchSize);
}

/**
 * The model of checkpoint `c` (the core's `modelFromCheckpoint`: no data, no step), or null when
 * no epoch had finished. Epochs are numbered from 0 everywhere: the kept model is the one after
 * epoch `c.epoch − 1`, and `progress` points at that same epoch, so progress and result agree.
 */
export function keptModel(spec: TrainingSpec, c: Checkpoint, meta: { rows: number; featureNames?: readonly string[] }, stoppedEarly = false): KeptModel | null {
  if (c.history.length < 1) return null;
  const r = modelFromCheckpoint(spec, c, meta.featureNames ? { featureNames: meta.featureNames } : {});
  const last = r.history.at(-1)!;
  const stepsPerEpoch = stepsPerEpochOf(spec, meta.rows);
  return {
    artifacts: { model: r.model, history: r.history },
    // no step ran to rebuild it: time and throughput are the finished epochs' own, and no kernels ran
    result: jobResultOf(r, stoppedEarly),
    progress: { epoch: last.epoch, epochs: spec.epochs, step: stepsPerEpoch, stepsPerEpoch, loss: last.loss, valLoss: last.valLoss ?? null },
    summary: `the model after epoch ${last.epoch} (${r.epochsRun} epoch${r.epochsRun === 1 ? '' : 's'} finished, weightsHash ${r.weightsHash}) and its metrics are kept`,
  };
}

/**
 * The job record's `result` from a training result: its figures, without model and history
 * (stored apart). `kernels` is left out for a model rebuilt from a checkpoint (`'none'`: no step ran).
 */
export function jobResultOf(r: TrainResult, stoppedEarly = r.stoppedEarly): JobResult {
  return {
    loss: r.loss,
    ...(r.valLoss !== undefined ? { valLoss: r.valLoss } : {}),
    ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}),
    ...(r.valAccuracy !== undefined ? { valAccuracy: r.valAccuracy } : {}),
    epochsRun: r.epochsRun,
    stoppedEarly,
    ...(r.gradientCheck ? { gradientCheck: r.gradientCheck } : {}),
    weightsHash: r.weightsHash,
    durationMs: r.durationMs,
    samplesPerSecond: r.samplesPerSecond,
    ...(r.kernels !== 'none' ? { kernels: r.kernels } : {}),
  };
}
