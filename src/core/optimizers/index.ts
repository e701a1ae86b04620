import { InvalidSpecError } from '../errors.js';
import type { Optimizer, OptimizerSpec, OptimizerType } from '../types.js';
import { OPTIMIZER_REGISTRY } from './registry.js';

export { Adam } from './adam.js';
export { AdamW } from './adamw.js';
export { Momentum } from './momentum.js';
export { OptimizerBase, type OptimizerState } from './optimizer-base.js';
export { OPTIMIZER_FIELDS, OPTIMIZER_REGISTRY, type OptimizerFactory } from './registry.js';
export { RmsProp } from './rmsprop.js';
export { Sgd } from './sgd.js';

/**
 * Creates the optimizer named by `spec.type` (see each class for its formula and defaults).
 * `step(params, grads, lr?)` updates the typed arrays in place; `state()` / `load()` save and
 * restore the step count and slot tensors (structured-clone-able).
 * @throws InvalidSpecError with the field path (`optimizer.type`, `optimizer.beta1`, …) for a bad spec.
 */
export function createOptimizer(spec: OptimizerSpec): Optimizer {
  if (spec === null || typeof spec !== 'object') throw new InvalidSpecError('optimizer', 'optimizer must be an object with a type');
  const factory = Object.hasOwn(OPTIMIZER_REGISTRY, spec.type) ? OPTIMIZER_REGISTRY[spec.type as OptimizerType] : undefined;
  if (!factory) throw new InvalidSpecError('optimizer.type', `optimizer.type must be one of ${Object.keys(OPTIMIZER_REGISTRY).join(', ')}, got ${String(spec.type)}`);
  return factory(spec);
}
