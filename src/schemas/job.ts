import { z } from 'zod';
import { epochMetricsOfAnyCore, type EpochMetricsOfOlderCores } from '../core/epoch-metrics.js';
import type { EpochMetrics, Progress } from '../core/types.js';
import { pagination } from './common.js';
import { TrainingSpecSchema } from './training-spec.js';
import { JobWebhookSchema } from './webhook.js';
import { JobFromCheckpointSchema } from './checkpoint.js';

/** `pruned`: a sweep trial that early stopping (ASHA) ended at a rung; it keeps its model and metrics. */
export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'pruned'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'pruned'];

export const JobProgressSchema = z
  .object({
    epoch: z.number().int(),
    epochs: z.number().int(),
    step: z.number().int(),
    stepsPerEpoch: z.number().int(),
    loss: z.number().nullable(),
    valLoss: z.number().nullable().optional(),
    estimatedFinishAt: z.string().optional().describe('When the trainer expects to finish, from its pace in this attempt'),
  })
  .meta({ id: 'JobProgress' });
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const JobResultSchema = z
  .object({
    loss: z.number(),
    valLoss: z.number().optional(),
    accuracy: z.number().optional(),
    valAccuracy: z.number().optional(),
    epochsRun: z.number().int(),
    stoppedEarly: z.boolean(),
    gradientCheck: z
      .object({
        passed: z.boolean(),
        maxRelativeError: z.number(),
        tolerance: z.number(),
        layers: z.array(z.object({ layer: z.number(), weights: z.number(), bias: z.number() })),
        checked: z.number(),
        totalParams: z.number(),
      })
      .optional(),
    weightsHash: z.string(),
    durationMs: z.number(),
    samplesPerSecond: z.number(),
    kernels: z
      .string()
      .optional()
      .meta({ description: 'Kernel backend that trained the model, e.g. `native-avx512-f32` (AVX-512 addon), `wasm-simd-fma-f32`, `js-f64` (TRAINING_KERNELS).' }),
  })
  .meta({ id: 'JobResult' });
export type JobResult = z.infer<typeof JobResultSchema>;

export const JobErrorSchema = z
  .object({
    code: z.string().describe('invalid_spec | diverged | dataset_missing | worker_error | timeout | ...'),
    message: z.string(),
    path: z.string().optional(),
    epoch: z.number().int().min(0).optional().describe('diverged: epoch (0-based) of the step that diverged'),
    step: z.number().int().min(1).optional().describe('diverged: step within that epoch (1-based; its last step when the epoch loss exploded)'),
    what: z
      .enum(['loss', 'gradient', 'weights'])
      .optional()
      .describe('diverged: what went non-finite, or `loss` also when the epoch loss exceeded maxLossGrowth × max(loss at init, 1)'),
  })
  .meta({ id: 'JobError' });
export type JobError = z.infer<typeof JobErrorSchema>;

export const JobSchema = z
  .object({
    id: z.string(),
    status: z.enum(JOB_STATUSES),
    datasetId: z.string(),
    spec: TrainingSpecSchema,
    progress: JobProgressSchema.nullable(),
    result: JobResultSchema.optional(),
    error: JobErrorSchema.optional(),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    attempts: z.number().int().describe('Times a worker started this job'),
    cancelRequested: z.boolean().optional(),
    maxDurationSeconds: z.number().int().optional(),
    fromCheckpoint: JobFromCheckpointSchema.optional().describe('The checkpoint this job started from'),
    webhook: JobWebhookSchema.optional().describe('Where this job\'s events are POSTed (Standard Webhooks, signed with the tenant\'s default secret)'),
    sweepId: z.string().optional().describe('The sweep this job is a trial of'),
    sweepTrial: z.number().int().optional().describe('Its trial index in that sweep'),
    estimatedSeconds: z.number().optional().describe('Training seconds estimated at submit from the throughput workers measured'),
    estimatedFinishAt: z
      .string()
      .optional()
      .describe('While running: when it should finish, from its own pace so far (refreshed with each progress write), or from the submit estimate before its first progress'),
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof JobSchema>;

export const JobListQuerySchema = z.strictObject({ status: z.enum(JOB_STATUSES).optional().describe('Only jobs with this status'), ...pagination('job') });
export const JobListSchema = z.object({ items: z.array(JobSchema), next: z.string().nullable() }).meta({ id: 'JobList' });

export const EventsQuerySchema = z.strictObject({
  lastEventId: z.coerce.number().int().min(0).optional().describe('Resume after this event id (as the Last-Event-ID header)'),
});

export const PredictBodySchema = z
  .strictObject({ features: z.array(z.array(z.number().finite()).min(1)).min(1) })
  .meta({ id: 'PredictRequest' });
export const PredictResponseSchema = z
  .object({
    predictions: z.union([z.array(z.number()), z.array(z.array(z.number()))]),
    probabilities: z.array(z.array(z.number())).optional(),
  })
  .meta({ id: 'PredictResponse' });

/** Said of a response field kept under its old name for one version. */
export const REMOVED_NEXT_VERSION = 'Deprecated: removed in the next version.';

/**
 * One row of `/metrics`: the core's per-epoch record, plus `gradNorm` and `clipped`, the old names
 * of `gradNormMean` and `clippedSteps`, kept for one version (see {@link metricsRow}).
 */
export const EpochMetricsSchema = z
  .object({
    epoch: z.number(),
    loss: z.number(),
    smoothedLoss: z.number(),
    valLoss: z.number().optional(),
    accuracy: z.number().optional(),
    valAccuracy: z.number().optional(),
    lr: z.number(),
    gradNormMean: z.number().describe("Mean over the epoch's steps of the pre-clip global gradient L2 norm"),
    clippedSteps: z.number().describe('Steps so far, this epoch included (a running total over the run), in which clipping changed the gradient'),
    gradNorm: z.number().meta({ deprecated: true, description: `The same as gradNormMean. ${REMOVED_NEXT_VERSION}` }),
    clipped: z.number().meta({ deprecated: true, description: `The same as clippedSteps. ${REMOVED_NEXT_VERSION}` }),
    durationMs: z.number(),
    samplesPerSecond: z.number(),
  })
  .meta({ id: 'EpochMetrics' });
export type EpochMetricsRow = z.infer<typeof EpochMetricsSchema>;

/** A history row as `/metrics` answers it, whichever core wrote it: this core's names plus the deprecated `gradNorm` and `clipped`. */
export function metricsRow(row: EpochMetrics | EpochMetricsOfOlderCores): EpochMetricsRow {
  const m = epochMetricsOfAnyCore(row);
  return { ...m, gradNorm: m.gradNormMean, clipped: m.clippedSteps };
}

/**
 * A progress event's data as the job's event stream carries it: the core's `Progress` plus
 * `clipped`, the old name of `clippedSteps`, kept for one version.
 */
export function progressEventData(p: Progress): Progress & { clipped: number } {
  return { ...p, clipped: p.clippedSteps };
}
export const MetricsSchema = z
  .object({
    jobId: z.string(),
    complete: z.boolean().describe('false while the job is queued or running: the history so far (its last checkpoint), more epochs may follow'),
    history: z.array(EpochMetricsSchema),
  })
  .meta({ id: 'Metrics' });

/** Body of `POST /v1/jobs/{id}/evaluate`. */
export const EvaluateBodySchema = z
  .strictObject({ datasetId: z.string().min(1).max(64).describe('A stored labelled dataset with the columns the model was trained on') })
  .meta({ id: 'EvaluateRequest' });

const ClassMetricsSchema = z.object({
  class: z.number().int(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  support: z.number().int().describe('Rows whose true class this is'),
});

/** Answer of `POST /v1/jobs/{id}/evaluate`: classification (binary too) or regression metrics. */
export const EvaluationSchema = z
  .union([
    z.object({
      rows: z.number().int(),
      loss: z.number().describe('Mean cross-entropy, as the training curve reports it'),
      accuracy: z.number(),
      perClass: z.array(ClassMetricsSchema).describe('Precision, recall, F1 (0 where undefined) and support per class'),
      confusionMatrix: z.array(z.array(z.number().int())).describe('confusionMatrix[true class][predicted class]'),
    }),
    z.object({
      rows: z.number().int(),
      loss: z.number().describe('Mean squared error as the training curve reports it (on normalized targets when the job normalized them)'),
      mse: z.number(),
      mae: z.number(),
      r2: z.number().describe('Coefficient of determination, averaged over outputs'),
    }),
  ])
  .meta({ id: 'Evaluation' });
