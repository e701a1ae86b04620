import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { specOptions, STARTER } from '../../core/spec-options.js';
import { CLIP_TYPES, OPTIMIZERS, SCHEDULES } from '../../core/types.js';

const FieldSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['number', 'boolean', 'enum']),
    description: z.string(),
    default: z.union([z.number(), z.boolean(), z.string()]).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    exclusiveMin: z.boolean().optional(),
    exclusiveMax: z.boolean().optional(),
    integer: z.boolean().optional(),
    values: z.array(z.string()).optional(),
  })
  .meta({ id: 'SpecField' });

export const SpecOptionsSchema = z
  .object({
    activations: z.array(z.string()),
    losses: z.array(z.string()),
    inits: z.array(z.string()),
    dtypes: z.array(z.string()),
    schedules: z.array(z.string()),
    clipTypes: z.array(z.string()),
    momentumVariants: z.array(z.string()),
    optimizers: z.array(z.object({ type: z.enum(OPTIMIZERS), fields: z.array(FieldSchema) })).describe('Each optimizer with its parameters, in the order to list them'),
    scheduleParameters: z.array(z.object({ type: z.enum(SCHEDULES), fields: z.array(FieldSchema) })).describe('Each schedule with its parameters; a field without a default is required for that type'),
    clipParameters: z.array(z.object({ type: z.enum(CLIP_TYPES), fields: z.array(FieldSchema) })).describe('Each clip type with its one parameter, the threshold (required)'),
    defaults: z.object({
      lossForOutput: z.record(z.string(), z.string()).describe('The loss of a spec without one, by output activation (`otherwise` for the rest)'),
      init: z.object({ reluLike: z.string(), otherwise: z.string() }),
      normalize: z.boolean(),
      validationSplit: z.number(),
      seed: z.number(),
      dtype: z.string(),
      maxLossGrowth: z.number(),
      earlyStopping: z.object({ minDelta: z.number(), restoreBest: z.boolean() }),
    }),
    starter: z.object({ optimizer: z.string(), epochs: z.number(), batchSize: z.number() }).describe('Suggested values for required fields without a default (clients prefill them)'),
  })
  .meta({ id: 'SpecOptions' });

/** `GET /v1/spec/options`: the spec's choices and defaults, from the core's own declarations. */
export const specOptionsRoutes: FastifyPluginAsyncZod = async (app) => {
  const body = { ...specOptions(), starter: STARTER } as unknown as z.infer<typeof SpecOptionsSchema>;
  app.get(
    '/v1/spec/options',
    {
      schema: {
        tags: ['spec'],
        operationId: 'getSpecOptions',
        summary: 'The choices of a training spec (activations, losses, optimizers and their parameters, …) and the defaults',
        response: { 200: SpecOptionsSchema },
        'x-response-descriptions': { 200: 'Derived from the same declarations the API validates with; clients build their forms and flags from it' },
      },
    },
    async () => body,
  );
};
