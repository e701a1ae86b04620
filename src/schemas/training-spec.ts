import { z } from 'zod';
import { JobWebhookSchema } from './webhook.js';
import { FromCheckpointSchema } from './checkpoint.js';
import './common.js'; // installs the "required" error message
import type { ClipSpec, OptimizerSpec, OptimizerType, ScheduleSpec, TrainingSpec } from '../core/types.js';
import { CLIP_FIELDS } from '../core/clip.js';
import { OPTIMIZER_FIELDS } from '../core/optimizers/registry.js';
import { SCHEDULE_FIELDS } from '../core/schedules.js';
import { expected, type Field, type Fields, type FieldValue, type FieldValues } from '../core/spec-fields.js';
import { ACTIVATIONS, CLIP_TYPES, DTYPES, INITS, LOSSES, OPTIMIZERS, SCHEDULES } from '../core/types.js';

/** Caps that keep one request from occupying a worker for days; see issue 5 for the cost model. */
export const SPEC_LIMITS = { maxLayers: 32, maxUnits: 4096, maxEpochs: 100_000, maxBatchSize: 1_000_000 } as const;

/** A zod enum from one of the core's readonly name lists, keeping its literal type. */
const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as unknown as [T, ...T[]]);

const positive = z.number().positive().finite();

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

/** The union's error for a missing or unknown `type`: the types there are. */
const typeError = (types: readonly string[]) => ({
  error: (iss: { code?: string; input?: unknown }) => {
    if (iss.code !== 'invalid_union') return undefined;
    const got = (iss.input as { type?: unknown } | undefined)?.type;
    return got === undefined ? `required (one of ${types.join(', ')})` : `must be one of ${types.join(', ')}, got ${JSON.stringify(got)}`;
  },
});

/**
 * A strict object for one `type` of a discriminated union: a field the type does not take is
 * rejected by name, with the list of fields it does take.
 */
function member<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  const what = type;
  const takes = Object.keys(shape).join(', ') || 'no parameter but type';
  return z.strictObject({ type: z.literal(type), ...shape }, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `not a parameter of ${what}; ${what} takes ${takes}` : undefined),
  });
}

/** A zod schema for one declared field (its range and message are the core's: one source); a field without a default is required. */
function zodField<F extends Field>(f: F): z.ZodOptional<z.ZodType<FieldValue<F>>> {
  const error = (iss: { input?: unknown }) =>
    iss.input === undefined ? `required (${expected(f)})` : `must be ${expected(f)}, got ${typeof iss.input === 'string' ? JSON.stringify(iss.input) : String(iss.input)}`;
  let t: z.ZodType;
  if (f.kind === 'boolean') t = z.boolean({ error });
  else if (f.kind === 'enum') t = z.enum(f.values as unknown as [string, ...string[]], { error });
  else {
    let n = z.number({ error });
    if (f.integer) n = n.int({ error });
    if (f.min !== undefined) n = f.exclusiveMin ? n.gt(f.min, { error }) : n.min(f.min, { error });
    if (f.max !== undefined) n = f.exclusiveMax ? n.lt(f.max, { error }) : n.max(f.max, { error });
    t = n;
  }
  return (f.default === undefined ? t : t.optional()).describe(f.description) as unknown as z.ZodOptional<z.ZodType<FieldValue<F>>>;
}

/** The zod shape of a field table. */
function zodShape<T extends Fields>(fields: T): { [K in keyof T]: z.ZodOptional<z.ZodType<FieldValue<T[K]>>> } {
  return Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, zodField(f)])) as { [K in keyof T]: z.ZodOptional<z.ZodType<FieldValue<T[K]>>> };
}

type OptimizerMember<T extends OptimizerType> = { type: T } & FieldValues<(typeof OPTIMIZER_FIELDS)[T]>;
/** One member per optimizer type, from the optimizers' own field tables. */
const optimizerMembers = OPTIMIZERS.map((type) => member(type, zodShape(OPTIMIZER_FIELDS[type])));

export const OptimizerSpecSchema = (
  z.discriminatedUnion('type', optimizerMembers as unknown as [(typeof optimizerMembers)[number], ...(typeof optimizerMembers)[number][]], typeError(OPTIMIZERS)) as unknown as z.ZodType<
    { [T in OptimizerType]: OptimizerMember<T> }[OptimizerType]
  >
).meta({ id: 'OptimizerSpec' });

/** One strict member per type of a field-table union (schedules, clip types), from the core's tables. */
function tableMembers<T extends string>(types: readonly T[], tables: Record<T, Fields>) {
  return types.map((type) => member(type, zodShape(tables[type])));
}

const scheduleMembers = tableMembers(SCHEDULES, SCHEDULE_FIELDS);
export const ScheduleSpecSchema = (
  z.discriminatedUnion('type', scheduleMembers as unknown as [(typeof scheduleMembers)[number], ...(typeof scheduleMembers)[number][]], typeError(SCHEDULES)) as unknown as z.ZodType<ScheduleSpec>
).meta({ id: 'ScheduleSpec' });

const clipMembers = tableMembers(CLIP_TYPES, CLIP_FIELDS);
export const ClipSpecSchema = (
  z.discriminatedUnion('type', clipMembers as unknown as [(typeof clipMembers)[number], ...(typeof clipMembers)[number][]], typeError(CLIP_TYPES)) as unknown as z.ZodType<ClipSpec>
).meta({ id: 'ClipSpec' });

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
  dtype: enumOf(DTYPES).optional(),
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
    webhook: JobWebhookSchema.optional(),
    fromCheckpoint: FromCheckpointSchema.optional(),
  })
  .meta({ id: 'JobSubmission' });
export type JobSubmission = z.infer<typeof JobSubmissionSchema>;

// Compile-time proof the schema and the core agree, field by field, in both directions.
type Parsed = z.infer<typeof TrainingSpecSchema>;
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
const schemaKeysMatchCore: SameKeys<Parsed, TrainingSpec> = true;
void schemaKeysMatchCore;
// The unions together take exactly the core's fields (each member a subset, checked by toTrainingSpec).
type AnyKey<T> = T extends unknown ? keyof T : never;
type SameUnionKeys<U, B> = [Exclude<AnyKey<U>, keyof B>, Exclude<keyof B, AnyKey<U>>] extends [never, never] ? true : false;
const unionKeysMatchCore: [
  SameUnionKeys<z.infer<typeof OptimizerSpecSchema>, OptimizerSpec>,
  SameUnionKeys<z.infer<typeof ScheduleSpecSchema>, ScheduleSpec>,
  SameUnionKeys<z.infer<typeof ClipSpecSchema>, ClipSpec>,
] = [true, true, true];
void unionKeysMatchCore;
/** A parsed spec is a core `TrainingSpec` (checked by the compiler). */
export const toTrainingSpec = (spec: Parsed): TrainingSpec => spec;

/** The training spec of a submission: everything but the fields about the job itself (what a job record's `spec` holds). */
export function submissionSpec(submission: JobSubmission): Parsed {
  const { datasetId: _d, maxDurationSeconds: _m, webhook: _w, fromCheckpoint: _f, ...spec } = submission;
  return spec;
}
