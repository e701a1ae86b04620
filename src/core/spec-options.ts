import { CLIP_FIELDS } from './clip.js';
import { OPTIMIZER_FIELDS } from './optimizers/registry.js';
import { SCHEDULE_FIELDS } from './schedules.js';
import type { Field, Fields } from './spec-fields.js';
import { DEFAULT_MAX_LOSS_GROWTH } from './spec.js';
import { ACTIVATIONS, CLIP_TYPES, DTYPES, INITS, LOSSES, MOMENTUM_VARIANTS, OPTIMIZERS, SCHEDULES, type Activation, type LossName } from './types.js';

/** The loss that goes with an output activation when a client does not name one. */
export const LOSS_FOR_OUTPUT: Readonly<Partial<Record<Activation, LossName>>> & { otherwise: LossName } = {
  softmax: 'softmax_cross_entropy',
  sigmoid: 'binary_cross_entropy',
  otherwise: 'mse',
};

/** Values clients suggest for the fields a spec requires that have no default (the CLI and the form prefill them). */
export const STARTER = { optimizer: 'adam', epochs: 50, batchSize: 32 } as const;

/** A field table as a list clients read: `{name, kind, range, default, description}` in declaration order. */
function fieldList(fields: Fields) {
  return Object.entries(fields as Readonly<Record<string, Field>>).map(([name, f]) => ({ name, ...f, ...(f.kind === 'enum' ? { values: [...f.values] } : {}) }));
}

/** The choices a spec offers and the core's defaults, for clients (`GET /v1/spec/options`). */
export function specOptions() {
  return {
    activations: [...ACTIVATIONS],
    losses: [...LOSSES],
    inits: [...INITS],
    dtypes: [...DTYPES],
    schedules: [...SCHEDULES],
    clipTypes: [...CLIP_TYPES],
    momentumVariants: [...MOMENTUM_VARIANTS],
    /** Every optimizer with its parameters (name, kind, range, default, description), in the order to list them. */
    optimizers: OPTIMIZERS.map((type) => ({ type, fields: fieldList(OPTIMIZER_FIELDS[type]) })),
    /** Every schedule with its parameters (a field without a default is required for its type). */
    scheduleParameters: SCHEDULES.map((type) => ({ type, fields: fieldList(SCHEDULE_FIELDS[type]) })),
    /** Every clip type with its one parameter, the threshold (required). */
    clipParameters: CLIP_TYPES.map((type) => ({ type, fields: fieldList(CLIP_FIELDS[type]) })),
    defaults: {
      /** The loss of a spec without one, by its output activation (`otherwise` for the rest). */
      lossForOutput: LOSS_FOR_OUTPUT,
      /** Init when absent: `he_normal` after a ReLU-like first layer, else `xavier_normal`. */
      init: { reluLike: 'he_normal', otherwise: 'xavier_normal' },
      normalize: true,
      validationSplit: 0,
      seed: 0,
      dtype: 'float32' as const,
      maxLossGrowth: DEFAULT_MAX_LOSS_GROWTH,
      earlyStopping: { minDelta: 0, restoreBest: true },
    },
  };
}
export type SpecOptions = ReturnType<typeof specOptions>;
