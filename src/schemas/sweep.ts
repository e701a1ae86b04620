import { z } from 'zod';
import { pagination } from './common.js';
import { JobWebhookSchema } from './webhook.js';
import { TrainingSpecSchema } from './training-spec.js';

/** Caps of one sweep: the grid's size and the trials of a random search. */
export const SWEEP_LIMITS = { maxTrials: 256, maxParameters: 16, maxValues: 64 } as const;

export const SWEEP_STATUSES = ['running', 'completed', 'cancelled'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

/** Trial statuses: `pending` until the scheduler creates its job, then the job's own status. */
export const TRIAL_STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'pruned'] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];

/** The metrics a sweep can rank trials by (fields of the job result and of each epoch's metrics). */
export const SWEEP_METRICS = ['valLoss', 'loss', 'valAccuracy'] as const;
export type SweepMetricName = (typeof SWEEP_METRICS)[number];

const finite = z.number().finite();

/** One swept parameter: a finite list of values, or a distribution random search samples from. */
export const ParameterSpecSchema = z
  .union([
    z.strictObject({ values: z.array(z.unknown()).min(1).max(SWEEP_LIMITS.maxValues).describe('Values to try (any JSON, null included)') }),
    z.strictObject({ distribution: z.literal('uniform'), min: finite, max: finite }),
    z.strictObject({ distribution: z.literal('log_uniform'), min: finite.positive(), max: finite.positive() }).describe('exp(U(ln min, ln max)); min > 0'),
    z.strictObject({ distribution: z.literal('int_uniform'), min: z.number().int(), max: z.number().int() }).describe('An integer in [min, max], each equally likely'),
  ])
  .meta({ id: 'SweepParameter' });
export type ParameterSpec = z.infer<typeof ParameterSpecSchema>;

export const SweepMetricSchema = z
  .strictObject({ name: z.enum(SWEEP_METRICS), goal: z.enum(['minimize', 'maximize']) })
  .meta({ id: 'SweepMetric' });
export type SweepMetric = z.infer<typeof SweepMetricSchema>;

export const AshaSpecSchema = z
  .strictObject({
    type: z.literal('asha'),
    minEpochs: z.number().int().min(1).describe('The first rung (r): rungs are at minEpochs · eta^k epochs, below the trial\'s epochs'),
    eta: z.number().int().min(2).max(16).describe('Reduction factor: a trial passes a rung only in the top 1/eta (rounded up) of the trials that reached it'),
  })
  .meta({ id: 'AshaSpec' });
export type AshaSpec = z.infer<typeof AshaSpecSchema>;

/** The body of `POST /v1/sweeps`. */
export const SweepSubmissionSchema = z
  .strictObject({
    datasetId: z.string().min(1).max(64),
    base: TrainingSpecSchema.describe('The job spec every trial starts from (without datasetId); parameters override its fields'),
    method: z.enum(['grid', 'random']),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional().describe('Seed of random sampling: the same seed gives the same trials. Default 1'),
    parameters: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$/, 'a dotted path of the job spec, e.g. optimizer.learningRate'), ParameterSpecSchema)
      .refine((p) => Object.keys(p).length >= 1 && Object.keys(p).length <= SWEEP_LIMITS.maxParameters, {
        error: `1 to ${SWEEP_LIMITS.maxParameters} parameters`,
      })
      .describe('Dotted paths of job-spec fields (`optimizer.type`, `model.layers.0.units`) and what to try for each'),
    metric: SweepMetricSchema,
    maxTrials: z.number().int().min(1).max(SWEEP_LIMITS.maxTrials).optional().describe('Random: trials to sample (required). Grid: a cap the grid must not exceed'),
    maxConcurrent: z.number().int().min(1).max(64).optional().describe('Most trials queued or running at once. Default 2'),
    earlyStop: AshaSpecSchema.optional(),
    maxDurationSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional().describe('Wall-clock limit of each trial'),
    webhook: JobWebhookSchema.optional().describe('Where `sweep.completed` / `sweep.cancelled` is POSTed (events `completed`, `cancelled`; signed with the tenant\'s default secret). Trials send none'),
  })
  .meta({ id: 'SweepSubmission' });
export type SweepSubmission = z.infer<typeof SweepSubmissionSchema>;

export const SweepTrialSchema = z
  .object({
    index: z.number().int(),
    jobId: z.string(),
    params: z.record(z.string(), z.unknown()),
    status: z.enum(TRIAL_STATUSES),
    metric: z.number().nullable().describe('The sweep metric: the final result once ended (at the rung epoch when pruned), else the last epoch so far'),
    epochsRun: z.number().int(),
    prunedAtEpoch: z.number().int().optional(),
  })
  .meta({ id: 'SweepTrial' });
export type SweepTrial = z.infer<typeof SweepTrialSchema>;

export const RungDecisionSchema = z
  .object({
    trial: z.number().int(),
    jobId: z.string(),
    rung: z.number().int().describe('Rung number k (0 = minEpochs)'),
    epoch: z.number().int(),
    metric: z.number(),
    rank: z.number().int().describe('0-based rank among the trials that reached this rung so far (0 = best)'),
    reached: z.number().int().describe('Trials that reached this rung so far, this one included'),
    keep: z.number().int().describe('ceil(reached / eta): ranks below it continue'),
    decision: z.enum(['continue', 'prune']),
    at: z.string(),
  })
  .meta({ id: 'RungDecision' });
export type RungDecision = z.infer<typeof RungDecisionSchema>;

export const SweepBestSchema = z.object({ trial: z.number().int(), jobId: z.string(), metric: z.number(), params: z.record(z.string(), z.unknown()) }).meta({ id: 'SweepBest' });
export type SweepBest = z.infer<typeof SweepBestSchema>;

export const SweepSchema = z
  .object({
    id: z.string(),
    status: z.enum(SWEEP_STATUSES),
    datasetId: z.string(),
    spec: SweepSubmissionSchema.omit({ datasetId: true }),
    createdAt: z.string(),
    finishedAt: z.string().optional(),
    trialCount: z.number().int(),
    counts: z.record(z.string(), z.number().int()).describe('Trials by status'),
    epochsRun: z.number().int().describe('Epochs run by all trials together'),
    best: SweepBestSchema.nullable().describe('The best trial that ran all its epochs (by metric and goal)'),
    trials: z.array(SweepTrialSchema),
    rungs: z.array(RungDecisionSchema).describe('Every ASHA rung decision, in order'),
  })
  .meta({ id: 'Sweep' });
export type Sweep = z.infer<typeof SweepSchema>;

export const SweepSummarySchema = SweepSchema.omit({ trials: true, rungs: true }).meta({ id: 'SweepSummary' });
export const SweepListSchema = z.object({ items: z.array(SweepSummarySchema), next: z.string().nullable() }).meta({ id: 'SweepList' });
export const SweepTrialsSchema = z.object({ sweepId: z.string(), trials: z.array(SweepTrialSchema) }).meta({ id: 'SweepTrials' });

export const SweepListQuerySchema = z.strictObject({ status: z.enum(SWEEP_STATUSES).optional().describe('Only sweeps with this status'), ...pagination('sw') });

