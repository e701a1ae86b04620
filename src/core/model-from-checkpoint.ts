import { InvalidSpecError } from './errors.js';
import { hashTensors } from './hash.js';
import { taskOf } from './losses.js';
import { epochMetricsOfAnyCore } from './epoch-metrics.js';
import type { CoreCheckpointState } from './train.js';
import type { Checkpoint, Model, TrainResult, TrainingSpec } from './types.js';

/**
 * The model a checkpoint holds (its weights, with the spec's activations and loss and the
 * checkpoint's normalization) and the figures of its finished epochs, without the data and
 * without running a step. For an epoch-end checkpoint (`step` 0) that is the model after epoch
 * `checkpoint.epoch − 1` (0-based), exactly what an uninterrupted run had then: same weights,
 * same `weightsHash`. `durationMs` and `samplesPerSecond` are the finished epochs' own.
 * @throws InvalidSpecError (`resumeFrom`) when the checkpoint is not one of this core or does not fit the spec.
 */
export function modelFromCheckpoint(spec: TrainingSpec, checkpoint: Checkpoint, options: { featureNames?: readonly string[] } = {}): TrainResult {
  const s = checkpoint?.state as CoreCheckpointState | undefined;
  if (checkpoint?.version !== 1 || s === null || typeof s !== 'object' || !Array.isArray(s.weights) || !Array.isArray(s.sizes)) {
    throw new InvalidSpecError('resumeFrom', 'not a checkpoint of this core (version 1)');
  }
  const layers = spec.model.layers;
  if (s.sizes.length !== layers.length + 1 || s.weights.length !== 2 * layers.length || layers.some((l, i) => l.units !== s.sizes[i + 1])) {
    throw new InvalidSpecError('resumeFrom', 'the checkpoint was taken with another architecture');
  }
  const model: Model = {
    format: 'tsnn-model',
    version: 1,
    task: taskOf(spec.loss),
    inputSize: s.sizes[0],
    loss: spec.loss,
    dtype: s.dtype,
    layers: layers.map((l, i) => ({ units: l.units, activation: l.activation, weights: Array.from(s.weights[2 * i]), bias: Array.from(s.weights[2 * i + 1]) })),
    weightsHash: hashTensors(s.weights),
  };
  if (spec.loss === 'softmax_cross_entropy') model.classes = s.sizes[s.sizes.length - 1];
  if (s.normalization) model.normalization = s.normalization;
  if (options.featureNames) model.featureNames = [...options.featureNames];
  const history = checkpoint.history.map((h) => ({ ...epochMetricsOfAnyCore(h) }));
  const last = history.at(-1);
  const result: TrainResult = {
    model,
    history,
    loss: last?.loss ?? NaN,
    epochsRun: history.length,
    stoppedEarly: s.stopped,
    weightsHash: model.weightsHash,
    durationMs: history.reduce((t, m) => t + m.durationMs, 0),
    samplesPerSecond: last?.samplesPerSecond ?? 0,
    clippedSteps: s.clippedSteps ?? s.clipped ?? 0,
    // no step ran here: no kernel backend
    kernels: 'none',
  };
  if (last?.valLoss !== undefined) result.valLoss = last.valLoss;
  if (last?.accuracy !== undefined) result.accuracy = last.accuracy;
  if (last?.valAccuracy !== undefined) result.valAccuracy = last.valAccuracy;
  return result;
}
