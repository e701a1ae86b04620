import type { Optimizer, OptimizerSpec, OptimizerType } from '../types.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import { Momentum } from './momentum.js';
import { RmsProp } from './rmsprop.js';
import { Sgd } from './sgd.js';

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
