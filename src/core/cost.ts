import { countParams, validationRows } from './spec.js';
import type { TrainingSpec } from './types.js';

/** Optimizer state slots per parameter (momentum, second moments), besides weights and gradients. */
const OPTIMIZER_SLOTS: Record<string, number> = { sgd: 0, momentum: 1, rmsprop: 2, adam: 2, adamw: 2 };

/** What one training run costs, before it runs. */
export interface TrainingCost {
  /** Trainable parameters (weights and biases). */
  params: number;
  /** Rows trained on per epoch (the rest are the validation split). */
  trainRows: number;
  validationRows: number;
  /**
   * Floating-point operations per epoch: 6 per parameter per training row (2 forward, 4
   * backward: the gradient with respect to weights and to inputs) plus 2 per parameter per
   * validation row (forward only).
   */
  flopsPerEpoch: number;
  /** All epochs' FLOP. */
  flops: number;
  /**
   * Bytes the trainer holds: the dataset (features and targets, float64 as stored), weights,
   * gradients and optimizer slots, and the activations and deltas of one batch (two buffers per
   * layer), in the spec's dtype.
   */
  memoryBytes: number;
}

/** The cost of training `spec` on a dataset of `rows` × `features` with `targets` columns. */
export function trainingCost(spec: TrainingSpec, data: { rows: number; features: number; targets: number }): TrainingCost {
  const params = countParams(spec.model.layers, data.features);
  const nVal = validationRows(data.rows, spec.validationSplit ?? 0);
  const trainRows = data.rows - nVal;
  const flopsPerEpoch = 6 * params * trainRows + 2 * params * nVal;
  const width = spec.dtype === 'float64' ? 8 : 4;
  const slots = OPTIMIZER_SLOTS[spec.optimizer.type] ?? 2;
  const batch = Math.min(spec.batchSize, Math.max(1, trainRows));
  const units = data.features + spec.model.layers.reduce((n, l) => n + l.units, 0);
  const memoryBytes = data.rows * (data.features + data.targets) * 8 + params * width * (2 + slots) + 2 * batch * units * width;
  return { params, trainRows, validationRows: nVal, flopsPerEpoch, flops: flopsPerEpoch * spec.epochs, memoryBytes };
}
