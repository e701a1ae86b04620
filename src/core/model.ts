import { copyRow, type TableSource } from './data.js';
import { InvalidSpecError } from './errors.js';
import { hashTensors } from './hash.js';
import { jsKernels } from './kernels/js.js';
import { taskOf } from './losses.js';
import { Network } from './network.js';
import { denormalizeRow, normalizeRow } from './normalize.js';
import type { Buf, DType, Model, NormalizationStats, Prediction } from './types.js';
import { ACTIVATIONS, LOSSES } from './types.js';
import { SOFTMAX_OUTPUT_ONLY } from './spec.js';

/** Rows per forward pass in `predict` (bounds its scratch memory). */
const PREDICT_CHUNK = 1024;

/** Builds the portable model of a trained network. */
export function toModel(
  net: Network,
  loss: Model['loss'],
  dtype: DType,
  normalization: NormalizationStats | undefined,
  classes: number | undefined,
  featureNames?: readonly string[],
): Model {
  const model: Model = {
    format: 'tsnn-model',
    version: 1,
    task: taskOf(loss),
    inputSize: net.sizes[0],
    loss,
    dtype,
    layers: net.W.map((W, l) => ({
      units: net.sizes[l + 1],
      activation: net.activations[l],
      weights: Array.from(W),
      bias: Array.from(net.b[l]),
    })),
    weightsHash: hashTensors(net.params),
  };
  if (classes !== undefined) model.classes = classes;
  if (normalization) model.normalization = normalization;
  if (featureNames) model.featureNames = [...featureNames];
  return model;
}

/** The hash of a model's weights as the training dtype stored them (same as `TrainResult.weightsHash`). */
export function modelHash(model: Model): string {
  const Ctor = model.dtype === 'float64' ? Float64Array : Float32Array;
  const tensors: Buf[] = [];
  for (const l of model.layers) tensors.push(Ctor.from(l.weights), Ctor.from(l.bias));
  return hashTensors(tensors);
}

function fail(path: string, message: string): never {
  throw new InvalidSpecError(path, message);
}

function checkNumbers(path: string, v: unknown, n: number): void {
  if (!Array.isArray(v) || v.length !== n) fail(path, `${path} must be an array of ${n} numbers`);
  for (let i = 0; i < n; i++) if (typeof v[i] !== 'number' || !Number.isFinite(v[i])) fail(`${path}[${i}]`, `${path}[${i}] must be a finite number`);
}

/**
 * Validates an untrusted model object (e.g. parsed from an upload) and returns it typed.
 * Checks the format tag and version, the layer shapes, every weight, the normalization stats
 * and that `weightsHash` matches the weights. Throws {@link InvalidSpecError} with the path of
 * the first problem.
 */
export function loadModel(json: unknown): Model {
  if (json === null || typeof json !== 'object') fail('model', 'a model must be an object');
  const m = json as Record<string, unknown>;
  if (m.format !== 'tsnn-model') fail('format', `format must be "tsnn-model", got ${String(m.format)}`);
  if (m.version !== 1) fail('version', `unsupported model version ${String(m.version)}; this build reads version 1`);
  if (!LOSSES.includes(m.loss as Model['loss'])) fail('loss', `loss must be one of ${LOSSES.join(', ')}`);
  const task = taskOf(m.loss as Model['loss']);
  if (m.task !== task) fail('task', `task must be ${task} for loss ${String(m.loss)}`);
  if (m.dtype !== 'float32' && m.dtype !== 'float64') fail('dtype', 'dtype must be float32 or float64');
  if (typeof m.inputSize !== 'number' || !Number.isInteger(m.inputSize) || m.inputSize < 1) fail('inputSize', 'inputSize must be an integer ≥ 1');
  if (!Array.isArray(m.layers) || m.layers.length === 0) fail('layers', 'layers must be a non-empty array');
  let fanIn = m.inputSize;
  const layers = m.layers as unknown[];
  layers.forEach((x, i) => {
    const p = `layers[${i}]`;
    if (x === null || typeof x !== 'object') fail(p, `${p} must be an object`);
    const l = x as Record<string, unknown>;
    if (typeof l.units !== 'number' || !Number.isInteger(l.units) || l.units < 1) fail(`${p}.units`, `${p}.units must be an integer ≥ 1`);
    if (!ACTIVATIONS.includes(l.activation as Model['layers'][0]['activation'])) fail(`${p}.activation`, `${p}.activation must be one of ${ACTIVATIONS.join(', ')}`);
    if (l.activation === 'softmax' && i !== layers.length - 1) fail(`${p}.activation`, SOFTMAX_OUTPUT_ONLY);
    checkNumbers(`${p}.weights`, l.weights, fanIn * l.units);
    checkNumbers(`${p}.bias`, l.bias, l.units);
    fanIn = l.units;
  });
  const outUnits = fanIn;
  if (task === 'classification') {
    if (m.classes !== outUnits) fail('classes', `classes must equal the output units (${outUnits})`);
  } else if (m.classes !== undefined) fail('classes', 'classes is only for classification models');
  if (m.normalization !== undefined) {
    const s = m.normalization as Record<string, unknown>;
    if (s === null || typeof s !== 'object') fail('normalization', 'normalization must be an object');
    checkNumbers('normalization.featureMean', s.featureMean, m.inputSize);
    checkNumbers('normalization.featureStd', s.featureStd, m.inputSize);
    if (s.targetMean !== undefined || s.targetStd !== undefined) {
      if (task !== 'regression') fail('normalization.targetMean', 'target normalization is only for regression models');
      checkNumbers('normalization.targetMean', s.targetMean, outUnits);
      checkNumbers('normalization.targetStd', s.targetStd, outUnits);
    }
    for (const k of ['featureStd', 'targetStd'] as const) {
      const a = s[k] as number[] | undefined;
      a?.forEach((v, i) => v === 0 && fail(`normalization.${k}[${i}]`, 'a standard deviation of 0 is invalid (constant columns store 1)'));
    }
  }
  if (m.featureNames !== undefined) {
    const n = m.featureNames;
    if (!Array.isArray(n) || n.length !== m.inputSize || n.some((x) => typeof x !== 'string'))
      fail('featureNames', `featureNames must be an array of ${m.inputSize} strings (one per input)`);
  }
  const model = json as Model;
  if (typeof m.weightsHash !== 'string' || modelHash(model) !== m.weightsHash) fail('weightsHash', 'weightsHash does not match the weights (corrupted or edited model)');
  return model;
}

/**
 * Runs a trained model on rows (`number[][]`, or a flat row-major buffer of `inputSize`
 * columns), applying the stored normalization. Computes in float64.
 * - classification: the argmax class per row and the softmax probabilities;
 * - binary: 0/1 per output (threshold 0.5; one number per row for a single output) and the
 *   sigmoid outputs;
 * - regression: the outputs, de-normalized when the targets were normalized (one number per
 *   row for a single output).
 */
export function predict(model: Model, rows: number[][] | Buf): Prediction {
  const F = model.inputSize;
  const src = rows as TableSource;
  let n: number;
  if (Array.isArray(rows)) {
    n = rows.length;
    rows.forEach((r, i) => {
      if (!Array.isArray(r) || r.length !== F) fail(`rows[${i}]`, `rows[${i}] must have ${F} numbers (the model's inputSize)`);
    });
  } else {
    if (rows.length % F !== 0) fail('rows', `a flat buffer must hold a multiple of ${F} values (the model's inputSize)`);
    n = rows.length / F;
  }
  const layers = model.layers;
  const chunk = Math.max(1, Math.min(PREDICT_CHUNK, n));
  const net = new Network(jsKernels('float64'), F, layers, chunk, 1);
  net.loadParams(layers.flatMap((l) => [l.weights, l.bias]));
  const out = layers[layers.length - 1].units;
  const stats = model.normalization;
  const featureStats = stats ? { mean: stats.featureMean, std: stats.featureStd } : undefined;
  const targetStats = stats?.targetMean && stats.targetStd ? { mean: stats.targetMean, std: stats.targetStd } : undefined;
  const values: number[][] = [];
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    for (let r = 0; r < m; r++) {
      copyRow(src, start + r, F, net.X, r * F);
      if (featureStats) normalizeRow(net.X, r * F, featureStats);
    }
    net.forward(m);
    const A = net.output;
    for (let r = 0; r < m; r++) {
      const v = Array.from(A.subarray(r * out, (r + 1) * out));
      if (targetStats) denormalizeRow(v, 0, targetStats);
      values.push(v);
    }
  }
  if (model.task === 'classification') {
    const predictions = values.map((p) => p.reduce((best, x, j) => (x > p[best] ? j : best), 0));
    return { predictions, probabilities: values };
  }
  if (model.task === 'binary') {
    const labels = values.map((p) => p.map((x) => (x >= 0.5 ? 1 : 0)));
    return { predictions: out === 1 ? labels.map((l) => l[0]) : labels, probabilities: values };
  }
  return { predictions: out === 1 ? values.map((v) => v[0]) : values };
}
