import type { Dataset } from '../schemas/dataset.js';
import type { JobSubmission } from '../schemas/training-spec.js';
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
export function checkSpecAgainstDataset(spec: JobSubmission, ds: Dataset, limits: SpecLimits = {}): void {
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
  const trainRows = Math.floor(ds.rows * (1 - split));
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
