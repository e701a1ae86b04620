import { z } from 'zod';

/** `fromCheckpoint` of `POST /v1/jobs`: start from a kept checkpoint of another job. */
export const FromCheckpointSchema = z
  .strictObject({
    jobId: z.string().min(1).max(64).describe('The job whose checkpoint to start from (same tenant)'),
    epoch: z.number().int().min(1).optional().describe('Finished epochs of the checkpoint (see GET /v1/jobs/{id}/checkpoints). Default the latest kept'),
  })
  .describe(
    'Continue training from a kept epoch-end checkpoint: same dataset, model, dtype, loss, normalize, validationSplit and seed as the source job; `epochs` counts from 0 as before (so it must exceed the checkpoint\'s epoch). Another optimizer starts with fresh optimizer state (weights kept)',
  )
  .meta({ id: 'FromCheckpoint' });
export type FromCheckpoint = z.infer<typeof FromCheckpointSchema>;

/** What a job started from a checkpoint records. */
export const JobFromCheckpointSchema = z
  .object({
    jobId: z.string(),
    epoch: z.number().int(),
    optimizerReset: z.boolean().describe('true when the optimizer differs from the source job\'s: its state (moments, step count) started fresh'),
  })
  .meta({ id: 'JobFromCheckpoint' });
export type JobFromCheckpoint = z.infer<typeof JobFromCheckpointSchema>;

export const KeptCheckpointSchema = z
  .object({
    epoch: z.number().int().describe('Epochs finished when it was taken'),
    loss: z.number(),
    valLoss: z.number().optional(),
    accuracy: z.number().optional(),
    valAccuracy: z.number().optional(),
    bytes: z.number().int(),
    createdAt: z.string(),
    best: z.boolean().describe('Lowest validation loss (else training loss) among the kept ones'),
  })
  .meta({ id: 'KeptCheckpoint' });

export const CheckpointListSchema = z
  .object({ jobId: z.string(), items: z.array(KeptCheckpointSchema) })
  .meta({ id: 'CheckpointList' });
