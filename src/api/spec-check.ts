import { createOptimizer, InvalidSpecError } from '../core/index.js';
import { resolveSpec, validationRows } from '../core/spec.js';
import type { Dataset } from '../schemas/dataset.js';
import { toTrainingSpec, type JobSubmission } from '../schemas/training-spec.js';
import { invalidField } from './problem.js';

/** Work caps of one job (`MAX_PARAMS`, `MAX_TRAINING_COST`). */
export interface SpecLimits {
  /** Most trainable parameters. Default: unlimited. */
  maxParams?: number;
  /** Most epochs × training rows × parameters. Default: unlimited. */
  maxTrainingCost?: number;
}

/** Weights and biases of the model on `inputs` features: Σ (fan-in × units + units). */
export function countParams(spec: Pick<JobSubmission, 'model'>, inputs: number): number {
  let fanIn = inputs;
  let n = 0;
  for (const l of spec.model.layers) {
    n += fanIn * l.units + l.units;
    fanIn = l.units;
  }
  return n;
}

/**
 * Checks what the schema cannot: that the spec fits the dataset, that the output
 * activation suits the loss, and that the job's size is within the caps. Throws a 400 naming the field.
 */
export function checkSpecAgainstDataset(spec: JobSubmission, ds: Dataset, limits: SpecLimits = {}, targets?: ArrayLike<number>): void {
  if (targets) checkLabels(spec, ds, targets);
  const layers = spec.model.layers;
  const lastIdx = layers.length - 1;
  const last = layers[lastIdx];
  const lastPath = `model.layers.${lastIdx}`;
  layers.forEach((l, i) => {
    if (l.activation === 'softmax' && i !== lastIdx)
      throw invalidField(`model.layers.${i}.activation`, 'softmax is allowed on the output layer only');
  });
  if (spec.loss === 'softmax_cross_entropy') {
    if (last.activation !== 'softmax')
      throw invalidField(`${lastPath}.activation`, `softmax_cross_entropy needs a softmax output layer, got '${last.activation}'`);
    if (ds.targetKind !== 'integer' || ds.targets !== 1 || ds.classes === undefined)
      throw invalidField('loss', `softmax_cross_entropy needs one integer class label (0, 1, ...) per row; dataset '${ds.id}' has ${ds.targets} ${ds.targetKind} target(s); use mse`);
    if (last.units !== ds.classes)
      throw invalidField(`${lastPath}.units`, `the output layer has ${last.units} units but dataset '${ds.id}' has ${ds.classes} classes (labels 0..${ds.classes - 1}); set units to ${ds.classes}`);
  } else if (spec.loss === 'binary_cross_entropy') {
    if (last.activation !== 'sigmoid')
      throw invalidField(`${lastPath}.activation`, `binary_cross_entropy needs a sigmoid output layer, got '${last.activation}'`);
    if (ds.targetKind !== 'integer' || (ds.classes !== undefined && ds.classes > 2))
      throw invalidField('loss', `binary_cross_entropy needs 0/1 targets; dataset '${ds.id}' has ${ds.targetKind} targets${ds.classes ? ` with ${ds.classes} classes` : ''}`);
    if (last.units !== ds.targets)
      throw invalidField(`${lastPath}.units`, `the output layer has ${last.units} units but dataset '${ds.id}' has ${ds.targets} target(s) per row; set units to ${ds.targets}`);
  } else {
    if (last.activation === 'softmax')
      throw invalidField(`${lastPath}.activation`, "a softmax output goes with loss 'softmax_cross_entropy'; for mse use 'linear'");
    if (last.units !== ds.targets)
      throw invalidField(`${lastPath}.units`, `the output layer has ${last.units} units but dataset '${ds.id}' has ${ds.targets} target(s) per row; set units to ${ds.targets}`);
  }
  const split = spec.validationSplit ?? 0;
  // the core's own split (at least one validation row when split > 0), so both count the same rows
  const trainRows = ds.rows - validationRows(ds.rows, split);
  if (trainRows < 1) throw invalidField('validationSplit', `leaves no training rows out of ${ds.rows}; lower it`);
  const params = countParams(spec, ds.features);
  const maxParams = limits.maxParams ?? Infinity;
  if (params > maxParams)
    throw invalidField('model.layers', `the model has ${params} parameters on ${ds.features} inputs, more than ${maxParams} (MAX_PARAMS); use fewer or smaller layers`);
  const cost = spec.epochs * trainRows * params;
  const maxCost = limits.maxTrainingCost ?? Infinity;
  if (cost > maxCost) {
    const epochs = Math.max(1, Math.floor(maxCost / (trainRows * params)));
    throw invalidField('epochs', `${spec.epochs} epochs × ${trainRows} training rows × ${params} parameters = ${cost.toExponential(2)}, more than ${maxCost.toExponential(2)} (MAX_TRAINING_COST); use at most ${epochs} epochs, fewer rows or a smaller model`);
  }
}

/** Losses whose check needs the dataset's target values (the labels), not only its metadata. */
export const needsTargets = (spec: Pick<JobSubmission, 'loss'>) => spec.loss !== 'mse';

/** Names the first label a classification loss cannot take, with its row and value. */
function checkLabels(spec: JobSubmission, ds: Dataset, targets: ArrayLike<number>): void {
  for (let i = 0; i < targets.length; i++) {
    const y = targets[i];
    const row = Math.floor(i / ds.targets);
    if (spec.loss === 'softmax_cross_entropy' && ds.targets === 1 && !(Number.isInteger(y) && y >= 0))
      throw invalidField('loss', `softmax_cross_entropy needs class labels 0, 1, …, C−1; dataset '${ds.id}' has label ${y} in row ${row}; relabel the classes from 0 or use mse`);
    if (spec.loss === 'binary_cross_entropy' && y !== 0 && y !== 1)
      throw invalidField('loss', `binary_cross_entropy needs targets 0 or 1; dataset '${ds.id}' has ${y} in row ${row}; map the labels to 0/1 or use mse`);
  }
}

/** A core path (`model.layers[0].units`, `data.targets[3]`) in the API's dotted form, on the body. */
function apiPath(corePath: string): string {
  if (corePath === '') return '(root)';
  if (corePath.startsWith('data')) return 'datasetId';
  return corePath.replace(/\[(\d+)\]/g, '.$1');
}

/**
 * Runs the training core's own spec validation (what the worker runs before training: the spec
 * against the labels, the optimizer, schedule, clip and gradient-check values), so a spec the
 * worker would fail as `invalid_spec` is a 400 at submit. `targets` are needed for
 * classification losses ({@link needsTargets}); for mse no value is read.
 */
export function checkSpecWithCore(spec: JobSubmission, ds: Dataset, targets: ArrayLike<number> = new Float64Array(0)): void {
  const { datasetId: _d, maxDurationSeconds: _m, ...rest } = spec;
  const core = toTrainingSpec(rest);
  const empty = new Float64Array(0);
  try {
    resolveSpec(core, { rows: ds.rows, featureCount: ds.features, targetWidth: ds.targets, features: empty, targets: targets.length ? targets : empty });
    createOptimizer(core.optimizer);
  } catch (err) {
    if (err instanceof InvalidSpecError) {
      const message = err.message.startsWith(`${err.path} `) ? err.message.slice(err.path.length + 1) : err.message;
      throw invalidField(apiPath(err.path), message);
    }
    throw err;
  }
}
