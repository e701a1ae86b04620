import { validateClip } from './clip.js';
import type { Table } from './data.js';
import { valueAt } from './data.js';
import { InvalidSpecError } from './errors.js';
import { defaultInit } from './init.js';
import { taskOf } from './losses.js';
import type { DenseLayer } from './network.js';
import { validateSchedule } from './schedules.js';
import type {
  ClipSpec,
  DType,
  GradientCheckSpec,
  InitName,
  LossName,
  OptimizerSpec,
  ScheduleSpec,
  Task,
  TrainingSpec,
} from './types.js';
import { ACTIVATIONS, DTYPES, INITS, LOSSES, OPTIMIZERS } from './types.js';
import { OPTIMIZER_FIELDS } from './optimizers/registry.js';
import { fieldsProblems } from './spec-fields.js';

/** A training spec with its defaults applied, checked against the dataset. */
export interface ResolvedSpec {
  layers: DenseLayer[];
  init: InitName;
  loss: LossName;
  task: Task;
  /** Number of classes (classification only). */
  classes?: number;
  epochs: number;
  batchSize: number;
  normalizeFeatures: boolean;
  normalizeTargets: boolean;
  validationSplit: number;
  seed: number;
  earlyStopping?: { patience: number; minDelta: number; restoreBest: boolean };
  maxLossGrowth: number;
  gradientCheck?: Required<GradientCheckSpec>;
  dtype: DType;
  schedule?: ScheduleSpec;
  clip?: ClipSpec;
}

/** Default of `maxLossGrowth`: a 100-fold rise of the mean loss over its value at init is no learning curve. */
export const DEFAULT_MAX_LOSS_GROWTH = 100;

/** Gradient-check defaults (see {@link GradientCheckSpec}). */
export const GRADIENT_CHECK_DEFAULTS: Required<GradientCheckSpec> = {
  epsilon: 1e-5,
  batchSize: 8,
  maxParams: 2000,
  tolerance: 1e-4,
};

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Fills in gradient-check defaults and checks the values. */
export function resolveGradientCheck(g: boolean | GradientCheckSpec | undefined, path = 'gradientCheck'): Required<GradientCheckSpec> {
  const fail = (p: string, message: string): never => {
    throw new InvalidSpecError(p, message);
  };
  const o = typeof g === 'object' && g !== null ? g : {};
  const r = { ...GRADIENT_CHECK_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  if (!(r.epsilon > 0 && Number.isFinite(r.epsilon))) fail(`${path}.epsilon`, `${path}.epsilon must be a finite number > 0`);
  if (!isInt(r.batchSize) || r.batchSize < 1) fail(`${path}.batchSize`, `${path}.batchSize must be an integer ≥ 1`);
  if (!isInt(r.maxParams) || r.maxParams < 1) fail(`${path}.maxParams`, `${path}.maxParams must be an integer ≥ 1`);
  if (!(r.tolerance > 0)) fail(`${path}.tolerance`, `${path}.tolerance must be a number > 0`);
  return r;
}

/** Whether `v` is one of the enumeration `values` (one of the `as const` arrays of types.ts). */
export function isOneOf<T extends string>(values: readonly T[], v: unknown): v is T {
  return typeof v === 'string' && (values as readonly string[]).includes(v);
}

/** One thing wrong with a spec: the field (`model.layers.1.units`, `optimizer.beta1`) and what is expected. */
export interface SpecProblem {
  path: string;
  message: string;
}

/**
 * What {@link validateSpec} knows of the dataset: its shape and, for the classification losses,
 * its target values (labels), or at least the class count the upload found.
 */
export interface DatasetMeta {
  /** Named in messages when given (`dataset 'ds_…'`). */
  id?: string;
  rows: number;
  /** Feature columns. */
  features: number;
  /** Target columns. */
  targets: number;
  /** Target values, row-major (`rows × targets`): the labels a classification loss is checked against. */
  targetValues?: ArrayLike<number>;
  /** `integer` when every target is an integer (used when `targetValues` are not given). */
  targetKind?: 'integer' | 'real';
  /** max + 1 of integer labels in one target column (used when `targetValues` are not given). */
  classes?: number;
}

/** Work caps of one job (the API's `MAX_PARAMS`, `MAX_TRAINING_COST`). */
export interface SpecLimits {
  /** Most trainable parameters. Default: unlimited. */
  maxParams?: number;
  /** Most epochs × training rows × parameters. Default: unlimited. */
  maxTrainingCost?: number;
}

/** Weights and biases of the model on `inputs` features: Σ (fan-in × units + units). */
export function countParams(layers: readonly { units: number }[], inputs: number): number {
  let fanIn = inputs;
  let n = 0;
  for (const l of layers) {
    n += fanIn * l.units + l.units;
    fanIn = l.units;
  }
  return n;
}

/** Runs a check written as "throw InvalidSpecError" and records its problem. */
function collect(problems: SpecProblem[], check: () => void): void {
  try {
    check();
  } catch (err) {
    if (!(err instanceof InvalidSpecError)) throw err;
    const message = err.message.startsWith(`${err.path} `) ? err.message.slice(err.path.length + 1) : err.message;
    problems.push({ path: err.path, message });
  }
}

interface Checked {
  problems: SpecProblem[];
  /** Number of classes found in the labels (softmax_cross_entropy). */
  classes?: number;
}

/** The labels of a classification loss: the first bad one as a problem, and the class count. */
function checkLabels(spec: TrainingSpec, ds: DatasetMeta, problems: SpecProblem[]): number | undefined {
  const name = ds.id ? `dataset '${ds.id}'` : 'the dataset';
  if (spec.loss === 'softmax_cross_entropy') {
    if (ds.targets !== 1 || (ds.targetValues === undefined && (ds.targetKind !== 'integer' || ds.classes === undefined))) {
      problems.push({ path: 'loss', message: `softmax_cross_entropy needs one integer class label (0, 1, ...) per row; ${name} has ${ds.targets} ${ds.targetKind ?? ''}${ds.targetKind ? ' ' : ''}target column${ds.targets === 1 ? '' : 's'}; use mse` });
      return undefined;
    }
    if (ds.targetValues === undefined) return ds.classes;
    let maxClass = 0;
    const t = ds.targetValues;
    for (let r = 0; r < t.length; r++) {
      const y = t[r];
      if (!(Number.isInteger(y) && y >= 0)) {
        problems.push({ path: 'loss', message: `softmax_cross_entropy needs class labels 0, 1, …, C−1; ${name} has label ${y} in row ${r}; relabel the classes from 0 or use mse` });
        return undefined;
      }
      if (y > maxClass) maxClass = y;
    }
    return maxClass + 1;
  }
  if (spec.loss === 'binary_cross_entropy') {
    if (ds.targetValues === undefined) {
      if (ds.targetKind !== 'integer' || (ds.classes !== undefined && ds.classes > 2))
        problems.push({ path: 'loss', message: `binary_cross_entropy needs 0/1 targets; ${name} has ${ds.targetKind ?? 'other'} targets${ds.classes ? ` with ${ds.classes} classes` : ''}` });
      return undefined;
    }
    const t = ds.targetValues;
    for (let i = 0; i < t.length; i++) {
      const y = t[i];
      if (y !== 0 && y !== 1) {
        problems.push({ path: 'loss', message: `binary_cross_entropy needs targets 0 or 1; ${name} has ${y} in row ${Math.floor(i / Math.max(1, ds.targets))}; map the labels to 0/1 or use mse` });
        return undefined;
      }
    }
  }
  return undefined;
}

/** Records a problem (a module function: a closure made per call of {@link check} costs more than the checks). */
function add(problems: SpecProblem[], path: string, message: string): void {
  problems.push({ path, message });
}

function check(spec: TrainingSpec, ds: DatasetMeta, limits: SpecLimits): Checked {
  const problems: SpecProblem[] = [];
  if (spec === null || typeof spec !== 'object') return { problems: [{ path: '', message: 'the training spec must be an object' }] };
  const name = ds.id ? `dataset '${ds.id}'` : 'the dataset';

  const loss = spec.loss;
  const lossOk = isOneOf(LOSSES, loss);
  if (!lossOk) add(problems, 'loss', `must be one of ${LOSSES.join(', ')}, got ${String(loss)}`);
  const classes = lossOk ? checkLabels(spec, ds, problems) : undefined;

  // the layers
  const model = spec.model;
  const layersIn = model !== null && typeof model === 'object' ? model.layers : undefined;
  let layersOk = false;
  if (model === null || typeof model !== 'object') add(problems, 'model', 'must be an object with layers');
  else if (!Array.isArray(layersIn) || layersIn.length === 0) add(problems, 'model.layers', 'must list at least one layer');
  else {
    layersOk = true;
    const last = layersIn.length - 1;
    layersIn.forEach((l, i) => {
      const p = `model.layers.${i}`;
      if (l === null || typeof l !== 'object') {
        layersOk = false;
        return add(problems, p, 'must be an object with units and activation');
      }
      if (!isInt(l.units) || l.units < 1) {
        layersOk = false;
        add(problems, `${p}.units`, `must be an integer ≥ 1, got ${String(l.units)}`);
      }
      if (!isOneOf(ACTIVATIONS, l.activation)) {
        layersOk = false;
        add(problems, `${p}.activation`, `must be one of ${ACTIVATIONS.join(', ')}, got ${String(l.activation)}`);
      } else if (l.activation === 'softmax' && i !== last) add(problems, `${p}.activation`, SOFTMAX_OUTPUT_ONLY);
    });
    if (model.init !== undefined && !isOneOf(INITS, model.init)) add(problems, 'model.init', `must be one of ${INITS.join(', ')}, got ${String(model.init)}`);
  }

  // the output layer against the loss and the dataset
  if (layersOk && lossOk && layersIn) {
    const lastIdx = layersIn.length - 1;
    const out = layersIn[lastIdx];
    const outPath = `model.layers.${lastIdx}`;
    const perRow = `${ds.targets} target${ds.targets === 1 ? '' : 's'} per row`;
    if (loss === 'softmax_cross_entropy') {
      if (out.activation !== 'softmax') add(problems, `${outPath}.activation`, `softmax_cross_entropy needs a softmax output layer, got '${out.activation}'`);
      else if (classes !== undefined && classes < 2) add(problems, 'loss', `softmax_cross_entropy needs at least 2 classes in the targets; ${name} has 1`);
      else if (classes !== undefined && out.units !== classes)
        add(problems, `${outPath}.units`, `the output layer has ${out.units} units but ${name} has ${classes} classes (labels 0..${classes - 1}); set units to ${classes}`);
    } else if (loss === 'binary_cross_entropy') {
      if (out.activation !== 'sigmoid') add(problems, `${outPath}.activation`, `binary_cross_entropy needs a sigmoid output layer, got '${out.activation}'`);
      else if (out.units !== ds.targets) add(problems, `${outPath}.units`, `the output layer has ${out.units} units but ${name} has ${perRow}; set units to ${ds.targets}`);
    } else if (out.activation === 'softmax' && out.units < 2) {
      add(problems, `${outPath}.activation`, "a softmax output of 1 unit is always 1: a softmax output goes with loss 'softmax_cross_entropy' (one unit per class); for mse use 'linear'");
    } else if (out.units !== ds.targets) {
      add(problems, `${outPath}.units`, `the output layer has ${out.units} units but ${name} has ${perRow}; set units to ${ds.targets}`);
    }
  }

  // sizes
  const epochsOk = isInt(spec.epochs) && spec.epochs >= 1;
  if (!epochsOk) add(problems, 'epochs', `must be an integer ≥ 1, got ${String(spec.epochs)}`);
  const batchOk = isInt(spec.batchSize) && spec.batchSize >= 1;
  if (!batchOk) add(problems, 'batchSize', `must be an integer ≥ 1, got ${String(spec.batchSize)}`);
  const vs = spec.validationSplit ?? 0;
  let trainRows = ds.rows;
  if (typeof vs !== 'number' || !(vs >= 0 && vs < 1)) add(problems, 'validationSplit', `must be in [0, 1), got ${String(vs)}`);
  else if (vs > 0) {
    const valRows = validationRows(ds.rows, vs);
    trainRows = ds.rows - valRows;
    problems.push(...splitProblems(vs, ds.rows, batchOk ? spec.batchSize : 1));
  }
  const seed = spec.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) add(problems, 'seed', 'must be a finite number');
  const dtype = spec.dtype ?? 'float32';
  if (!isOneOf(DTYPES, dtype)) add(problems, 'dtype', `must be one of ${DTYPES.join(', ')}, got ${String(dtype)}`);

  const n = spec.normalize ?? true;
  if (typeof n !== 'boolean') {
    if (n !== null && typeof n === 'object') {
      const f = n.features ?? true;
      const t = n.targets ?? false;
      if (typeof f !== 'boolean') add(problems, 'normalize.features', 'must be true or false');
      if (typeof t !== 'boolean') add(problems, 'normalize.targets', 'must be true or false');
      else if (t && loss !== 'mse') add(problems, 'normalize.targets', 'target normalization applies to mse (regression) only');
    } else add(problems, 'normalize', 'must be a boolean or {features, targets}');
  }

  if (spec.earlyStopping !== undefined) {
    const e = spec.earlyStopping;
    if (e === null || typeof e !== 'object') add(problems, 'earlyStopping', 'must be an object with patience');
    else {
      if (!isInt(e.patience) || e.patience < 1) add(problems, 'earlyStopping.patience', 'must be an integer ≥ 1');
      const minDelta = e.minDelta ?? 0;
      if (typeof minDelta !== 'number' || !(minDelta >= 0) || !Number.isFinite(minDelta)) add(problems, 'earlyStopping.minDelta', 'must be a finite number ≥ 0');
      if (typeof (e.restoreBest ?? true) !== 'boolean') add(problems, 'earlyStopping.restoreBest', 'must be true or false');
    }
  }
  const maxLossGrowth = spec.maxLossGrowth ?? DEFAULT_MAX_LOSS_GROWTH;
  if (typeof maxLossGrowth !== 'number' || !(maxLossGrowth > 1) || !Number.isFinite(maxLossGrowth)) add(problems, 'maxLossGrowth', `must be a finite number > 1, got ${String(maxLossGrowth)}`);
  if (spec.gradientCheck) collect(problems, () => resolveGradientCheck(spec.gradientCheck));

  const o = spec.optimizer as OptimizerSpec | null | undefined;
  if (o === null || typeof o !== 'object') add(problems, 'optimizer', 'must be an object with a type');
  else if (!isOneOf(OPTIMIZERS, o.type)) add(problems, 'optimizer.type', `must be one of ${OPTIMIZERS.join(', ')}, got ${String(o.type)}`);
  else problems.push(...fieldsProblems('optimizer', o.type, OPTIMIZER_FIELDS[o.type], o));
  if (spec.clip !== undefined) {
    if (spec.clip === null || typeof spec.clip !== 'object') add(problems, 'clip', 'must be an object with a type');
    else collect(problems, () => validateClip(spec.clip!));
  }
  if (spec.schedule !== undefined) {
    if (spec.schedule === null || typeof spec.schedule !== 'object') add(problems, 'schedule', 'must be an object with a type');
    else collect(problems, () => validateSchedule(spec.schedule!));
  }

  // the work caps
  if (layersOk && layersIn) {
    const params = countParams(layersIn, ds.features);
    const maxParams = limits.maxParams ?? Infinity;
    if (params > maxParams) add(problems, 'model.layers', `the model has ${params} parameters on ${ds.features} inputs, more than ${maxParams} (MAX_PARAMS); use fewer or smaller layers`);
    else if (epochsOk && trainRows >= 1) {
      const cost = spec.epochs * trainRows * params;
      const maxCost = limits.maxTrainingCost ?? Infinity;
      if (cost > maxCost) {
        const epochs = Math.max(1, Math.floor(maxCost / (trainRows * params)));
        add(problems, 'epochs', `${spec.epochs} epochs × ${trainRows} training rows × ${params} parameters = ${cost.toExponential(2)}, more than ${maxCost.toExponential(2)} (MAX_TRAINING_COST); use at most ${epochs} epochs, fewer rows or a smaller model`);
      }
    }
  }
  return { problems, classes };
}

/**
 * A held-out split must leave at least one full batch of training rows (`batchSize` rows; when
 * `batchSize` ≥ the dataset's rows, full-batch training, any training row) and at least one
 * validation row.
 */
function splitProblems(split: number, rows: number, batchSize: number): SpecProblem[] {
  const valRows = validationRows(rows, split);
  const trainRows = rows - valRows;
  const needed = batchSize < rows ? batchSize : 1;
  if (trainRows >= needed && valRows >= 1) return [];
  if (rows < needed + 1) return [{ path: 'validationSplit', message: `${rows} row${rows === 1 ? '' : 's'} cannot hold ${needed} training row${needed === 1 ? '' : 's'} (batchSize ${batchSize}) and 1 validation row; use validationSplit 0 or a smaller batchSize` }];
  const most = Math.floor(((rows - needed) / rows) * 1000) / 1000;
  return [{ path: 'validationSplit', message: `validationSplit ${split} holds out ${valRows} of ${rows} rows and leaves ${trainRows} for training, fewer than one batch of ${needed} (batchSize ${batchSize}); use at most ${most}` }];
}

/** The one message for a softmax anywhere but on the output layer (specs and stored models). */
export const SOFTMAX_OUTPUT_ONLY = 'softmax is allowed on the output layer only';

/**
 * Every problem of a training spec against a dataset: the one validation the API runs at
 * submit and the worker runs before training (and `train` runs on its own). Returns `[]` for a
 * spec that trains. Paths are dotted like the API's (`model.layers.1.units`); each message
 * says what is expected (and, for sizes, the numbers).
 */
export function validateSpec(spec: TrainingSpec, dataset: DatasetMeta, limits: SpecLimits = {}): SpecProblem[] {
  return check(spec, dataset, limits).problems;
}

/**
 * Applies defaults and checks a training spec against the data, throwing
 * {@link InvalidSpecError} with the path of the first problem {@link validateSpec} finds.
 */
export function resolveSpec(spec: TrainingSpec, table: Table): ResolvedSpec {
  const { problems, classes } = check(spec, { rows: table.rows, features: table.featureCount, targets: table.targetWidth, targetValues: flatTargets(table) }, {});
  if (problems.length > 0) throw new InvalidSpecError(problems[0].path, problems[0].path ? `${problems[0].path}: ${problems[0].message}` : problems[0].message);
  const layers: DenseLayer[] = spec.model.layers.map((l) => ({ units: l.units, activation: l.activation }));
  const n = spec.normalize ?? true;
  const es = spec.earlyStopping;
  return {
    layers,
    init: spec.model.init ?? defaultInit(layers[0].activation),
    loss: spec.loss,
    task: taskOf(spec.loss),
    classes,
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    normalizeFeatures: typeof n === 'boolean' ? n : (n.features ?? true),
    normalizeTargets: typeof n === 'boolean' ? false : (n.targets ?? false),
    validationSplit: spec.validationSplit ?? 0,
    seed: spec.seed ?? 0,
    earlyStopping: es ? { patience: es.patience, minDelta: es.minDelta ?? 0, restoreBest: es.restoreBest ?? true } : undefined,
    maxLossGrowth: spec.maxLossGrowth ?? DEFAULT_MAX_LOSS_GROWTH,
    gradientCheck: spec.gradientCheck ? resolveGradientCheck(spec.gradientCheck) : undefined,
    dtype: spec.dtype ?? 'float32',
    schedule: spec.schedule,
    clip: spec.clip,
  };
}

/** The table's targets as one flat row-major sequence (no copy for flat sources). */
function flatTargets(table: Table): ArrayLike<number> {
  const t = table.targets as number[][];
  if (table.rows === 0 || !Array.isArray(t[0])) return table.targets as ArrayLike<number>;
  const w = table.targetWidth;
  const out = new Float64Array(table.rows * w);
  for (let r = 0; r < table.rows; r++) for (let j = 0; j < w; j++) out[r * w + j] = valueAt(table.targets, r, j, w);
  return out;
}

/** Rows held out for validation: floor(rows·split), at least 1 when split > 0. */
export function validationRows(rows: number, split: number): number {
  return split > 0 ? Math.max(1, Math.floor(rows * split)) : 0;
}
