import { z } from 'zod';
import type { TrainingSpec } from '../core/types.js';
import { ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, SCHEDULES } from '../core/types.js';

/** Caps that keep one request from occupying a worker for days; see issue 5 for the cost model. */
export const SPEC_LIMITS = { maxLayers: 32, maxUnits: 4096, maxEpochs: 100_000, maxBatchSize: 1_000_000 } as const;

/** A zod enum from one of the core's readonly name lists, keeping its literal type. */
const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as unknown as [T, ...T[]]);

const positive = z.number().positive().finite();
const unit = z.number().gt(0).lt(1);

export const LayerSpecSchema = z
  .strictObject({
    units: z.number().int().min(1).max(SPEC_LIMITS.maxUnits),
    activation: enumOf(ACTIVATIONS),
  })
  .meta({ id: 'LayerSpec' });

export const ModelSpecSchema = z
  .strictObject({
    layers: z.array(LayerSpecSchema).min(1).max(SPEC_LIMITS.maxLayers),
    init: enumOf(INITS).optional(),
  })
  .meta({ id: 'ModelSpec' });

export const OptimizerSpecSchema = z
  .strictObject({
    type: enumOf(OPTIMIZERS),
    learningRate: positive.optional(),
    beta: unit.optional(),
    beta1: unit.optional(),
    beta2: unit.optional(),
    epsilon: positive.optional(),
    momentum: z.number().min(0).lt(1).optional(),
    variant: z.enum(['ema', 'classic']).optional(),
    nesterov: z.boolean().optional(),
    centered: z.boolean().optional(),
    weightDecay: z.number().min(0).finite().optional(),
  })
  .meta({ id: 'OptimizerSpec' });

export const ScheduleSpecSchema = z
  .strictObject({
    type: enumOf(SCHEDULES),
    decayRate: z.number().min(0).finite().optional(),
    k: positive.optional(),
    gamma: z.number().gt(0).max(1).optional(),
    stepSize: z.number().int().min(1).optional(),
  })
  .meta({ id: 'ScheduleSpec' });

export const ClipSpecSchema = z
  .strictObject({
    type: z.enum(['value', 'norm', 'global_norm']),
    value: positive.optional(),
    maxNorm: positive.optional(),
  })
  .refine((c) => (c.type === 'value' ? c.value !== undefined : c.maxNorm !== undefined), {
    message: 'clip "value" needs `value`; "norm" and "global_norm" need `maxNorm`',
  })
  .meta({ id: 'ClipSpec' });

export const EarlyStoppingSpecSchema = z
  .strictObject({
    patience: z.number().int().min(1).max(SPEC_LIMITS.maxEpochs),
    minDelta: z.number().min(0).finite().optional(),
    restoreBest: z.boolean().optional(),
  })
  .meta({ id: 'EarlyStoppingSpec' });

export const GradientCheckSpecSchema = z
  .strictObject({
    epsilon: positive.optional(),
    batchSize: z.number().int().min(1).max(1024).optional(),
    maxParams: z.number().int().min(1).max(100_000).optional(),
    tolerance: positive.optional(),
  })
  .meta({ id: 'GradientCheckSpec' });

/** Fields of the core's `TrainingSpec`, same names; `POST /v1/jobs` adds `datasetId`. */
export const trainingSpecShape = {
  model: ModelSpecSchema,
  loss: enumOf(LOSSES),
  optimizer: OptimizerSpecSchema,
  schedule: ScheduleSpecSchema.optional(),
  clip: ClipSpecSchema.optional(),
  epochs: z.number().int().min(1).max(SPEC_LIMITS.maxEpochs),
  batchSize: z.number().int().min(1).max(SPEC_LIMITS.maxBatchSize),
  normalize: z
    .union([z.boolean(), z.strictObject({ features: z.boolean().optional(), targets: z.boolean().optional() })])
    .optional(),
  validationSplit: z.number().min(0).lt(1).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  earlyStopping: EarlyStoppingSpecSchema.optional(),
  maxLossGrowth: z.number().gt(1).finite().optional().describe('The job fails with `diverged` when the mean training loss of an epoch exceeds maxLossGrowth × max(loss at init, 1). Default 100'),
  gradientCheck: z.union([z.boolean(), GradientCheckSpecSchema]).optional(),
  dtype: z.enum(['float32', 'float64']).optional(),
};

export const TrainingSpecSchema = z.strictObject(trainingSpecShape).meta({ id: 'TrainingSpec' });

/** The body of `POST /v1/jobs`. */
export const JobSubmissionSchema = z
  .strictObject({
    datasetId: z.string().min(1).max(64),
    ...trainingSpecShape,
    maxDurationSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional()
      .describe('Wall-clock limit from the first start; then the job fails with code `timeout`, keeping the model of its last checkpoint'),
  })
  .meta({ id: 'JobSubmission' });
export type JobSubmission = z.infer<typeof JobSubmissionSchema>;

// Compile-time proof the schema and the core agree, field by field, in both directions.
type Parsed = z.infer<typeof TrainingSpecSchema>;
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
const schemaKeysMatchCore: SameKeys<Parsed, TrainingSpec> = true;
void schemaKeysMatchCore;
/** A parsed spec is a core `TrainingSpec` (checked by the compiler). */
export const toTrainingSpec = (spec: Parsed): TrainingSpec => spec;
