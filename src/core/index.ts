/**
 * The training core's public API: a dense-network trainer on typed arrays, usable as a library
 * (no server needed). See docs/core.md.
 */
export { train, type CoreCheckpointState } from './train.js';
export { predict, loadModel } from './model.js';
export { trainingCost, type TrainingCost } from './cost.js';
export { evaluate, Evaluator, type Evaluation, type ClassificationEvaluation, type RegressionEvaluation, type ClassMetrics } from './evaluate.js';
export { modelFromCheckpoint } from './model-from-checkpoint.js';
export { epochMetricsOfAnyCore, type EpochMetricsOfOlderCores } from './epoch-metrics.js';
export { validateSpec, countParams, validationRows, isOneOf, SOFTMAX_OUTPUT_ONLY, type DatasetMeta, type SpecLimits, type SpecProblem } from './spec.js';
export { gradientCheck, relativeError, type BackwardPass, type GradientCheckOptions } from './gradient-check.js';
export { createOptimizer } from './optimizers/index.js';
export { clipGradients, clipByValue, clipByNorm, clipByGlobalNorm } from './clip.js';
export { learningRateAt } from './schedules.js';
export { initialize, defaultInit } from './init.js';
export { createRng } from './rng.js';
export { Ewma } from './ewma.js';
export { InvalidSpecError } from './errors.js';
export { DivergenceError, TrainingAbortedError, DIVERGENCE_HINT, divergenceHint, type DivergenceKind } from './training-errors.js';
export { hashTensors } from './hash.js';
export { getKernels, type Kernels } from './kernels/index.js';
export { jsKernels } from './kernels/js.js';
export { Network, type DenseLayer } from './network.js';
export { LEAKY_SLOPE } from './activations.js';
export * from './types.js';
