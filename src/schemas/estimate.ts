import { z } from 'zod';

const ThroughputSchema = z
  .object({
    flopsPerSecond: z.number().describe('FLOP/s (samples/s × FLOP per sample) the trainers measured on finished jobs of this size class (a power of two of the parameter count)'),
    source: z
      .enum(['measured', 'interpolated', 'nearest', 'default'])
      .describe('`measured`: jobs of this size class ran; `interpolated`: log-log between the nearest smaller and larger measured classes; `nearest`: the closest measured class; `default`: nothing measured yet, a deliberately low rate is assumed'),
    trainers: z.number().int().describe('Trainer processes whose measurements were averaged'),
  })
  .meta({ id: 'Throughput' });

const QueueEstimateSchema = z
  .object({
    waiting: z.number().int().describe('Jobs waiting in the queue now'),
    running: z.number().int().describe('Jobs running now'),
    slots: z.number().int().describe('Training slots of the workers seen in the last minute'),
    position: z.number().int().describe('Place this submission would take in the wait list (1 = next)'),
    estimatedStartAt: z.string().describe('When a slot should free for it, assuming the jobs ahead take as long as this one'),
  })
  .meta({ id: 'QueueEstimate' });

/** The answer of `POST /v1/jobs?dryRun=true`. */
export const JobEstimateSchema = z
  .object({
    dryRun: z.literal(true),
    params: z.number().int(),
    flopsPerEpoch: z.number().describe('6 FLOP per parameter per training row + 2 per validation row'),
    flops: z.number(),
    memoryBytes: z.number().int().describe('Dataset, weights, gradients, optimizer state and one batch of activations'),
    estimatedSeconds: z.number().describe('Training seconds: the per-job overhead the trainers measured + flops / throughput.flopsPerSecond'),
    throughput: ThroughputSchema,
    queue: QueueEstimateSchema,
    estimatedFinishAt: z.string(),
  })
  .meta({ id: 'JobEstimate' });
export type JobEstimate = z.infer<typeof JobEstimateSchema>;

/** The answer of `POST /v1/sweeps?dryRun=true`. */
export const SweepEstimateSchema = z
  .object({
    dryRun: z.literal(true),
    trials: z.number().int(),
    maxConcurrent: z.number().int(),
    flops: z.number().describe('All trials run to their last epoch (ASHA stops some earlier: an upper bound)'),
    memoryBytes: z.number().int().describe('The largest trial\'s'),
    trialSeconds: z.number().describe('Training seconds of all trials together'),
    estimatedSeconds: z.number().describe('Wall clock: trialSeconds / min(maxConcurrent, slots)'),
    throughput: ThroughputSchema,
    queue: QueueEstimateSchema,
    estimatedFinishAt: z.string(),
    trialEstimates: z.array(z.object({ index: z.number().int(), params: z.number().int(), flops: z.number(), memoryBytes: z.number().int(), estimatedSeconds: z.number() })),
  })
  .meta({ id: 'SweepEstimate' });
export type SweepEstimate = z.infer<typeof SweepEstimateSchema>;


/** `?dryRun=true`: validate fully and answer the estimate, queueing nothing. */
const QueryBooleanDryRun = z
  .enum(['true', 'false'])
  .transform((v) => v === 'true')
  .optional()
  .describe('true: validate fully and return the estimate (200) without queueing anything');
export const DryRunQuerySchema = z.strictObject({ dryRun: QueryBooleanDryRun });
