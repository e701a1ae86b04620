import type { Optimizer, OptimizerSpec, OptimizerType } from '../types.js';
import { Adam, ADAM_FIELDS } from './adam.js';
import { AdamW, ADAMW_FIELDS } from './adamw.js';
import { Momentum, MOMENTUM_FIELDS } from './momentum.js';
import { RmsProp, RMSPROP_FIELDS } from './rmsprop.js';
import { Sgd, SGD_FIELDS } from './sgd.js';
import type { Fields } from '../spec-fields.js';

/**
 * The parameters each optimizer takes (besides `type`), declared in its own file: validation,
 * the API schema, `GET /v1/spec/options`, the CLI flags and the dashboard are built from them.
 */
export const OPTIMIZER_FIELDS = {
  sgd: SGD_FIELDS,
  momentum: MOMENTUM_FIELDS,
  rmsprop: RMSPROP_FIELDS,
  adam: ADAM_FIELDS,
  adamw: ADAMW_FIELDS,
} as const satisfies Record<OptimizerType, Fields>;

/** Builds an optimizer from its (validated) spec. */
export type OptimizerFactory = (spec: OptimizerSpec) => Optimizer;

/** Every optimizer by its `optimizer.type` name. */
export const OPTIMIZER_REGISTRY: Readonly<Record<OptimizerType, OptimizerFactory>> = {
  sgd: (spec) => new Sgd(spec),
  momentum: (spec) => new Momentum(spec),
  rmsprop: (spec) => new RmsProp(spec),
  adam: (spec) => new Adam(spec),
  adamw: (spec) => new AdamW(spec),
};
