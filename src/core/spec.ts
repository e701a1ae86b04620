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
  ScheduleSpec,
  Task,
  TrainingSpec,
} from './types.js';
import { ACTIVATIONS, INITS, LOSSES } from './types.js';

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

function fail(path: string, message: string): never {
  throw new InvalidSpecError(path, message);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Fills in gradient-check defaults and checks the values. */
export function resolveGradientCheck(g: boolean | GradientCheckSpec | undefined, path = 'gradientCheck'): Required<GradientCheckSpec> {
  const o = typeof g === 'object' && g !== null ? g : {};
  const r = { ...GRADIENT_CHECK_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  if (!(r.epsilon > 0 && Number.isFinite(r.epsilon))) fail(`${path}.epsilon`, `${path}.epsilon must be a finite number > 0`);
  if (!isInt(r.batchSize) || r.batchSize < 1) fail(`${path}.batchSize`, `${path}.batchSize must be an integer ≥ 1`);
  if (!isInt(r.maxParams) || r.maxParams < 1) fail(`${path}.maxParams`, `${path}.maxParams must be an integer ≥ 1`);
  if (!(r.tolerance > 0)) fail(`${path}.tolerance`, `${path}.tolerance must be a number > 0`);
  return r;
}

/**
 * Applies defaults and checks a training spec against the data, throwing
 * {@link InvalidSpecError} with the path of the first bad field. Optimizer, schedule and clip
 * values are checked by their own modules when they are built.
 */
export function resolveSpec(spec: TrainingSpec, table: Table): ResolvedSpec {
  if (spec === null || typeof spec !== 'object') fail('', 'the training spec must be an object');
  const model = spec.model;
  if (model === null || typeof model !== 'object') fail('model', 'model must be an object with layers');
  const layersIn = model.layers;
  if (!Array.isArray(layersIn) || layersIn.length === 0) fail('model.layers', 'model.layers must list at least one layer');
  const last = layersIn.length - 1;
  const layers: DenseLayer[] = layersIn.map((l, i) => {
    const p = `model.layers[${i}]`;
    if (l === null || typeof l !== 'object') fail(p, `${p} must be an object with units and activation`);
    if (!isInt(l.units) || l.units < 1) fail(`${p}.units`, `${p}.units must be an integer ≥ 1, got ${String(l.units)}`);
    if (!ACTIVATIONS.includes(l.activation)) fail(`${p}.activation`, `${p}.activation must be one of ${ACTIVATIONS.join(', ')}, got ${String(l.activation)}`);
    if (l.activation === 'softmax' && i !== last) fail(`${p}.activation`, 'softmax is allowed on the output layer only');
    return { units: l.units, activation: l.activation };
  });
  const init = model.init ?? defaultInit(layers[0].activation);
  if (!INITS.includes(init)) fail('model.init', `model.init must be one of ${INITS.join(', ')}, got ${String(init)}`);

  const loss = spec.loss;
  if (!LOSSES.includes(loss)) fail('loss', `loss must be one of ${LOSSES.join(', ')}, got ${String(loss)}`);
  const task = taskOf(loss);
  const out = layers[last];
  const outPath = `model.layers[${last}]`;
  let classes: number | undefined;
  if (loss === 'softmax_cross_entropy') {
    if (out.activation !== 'softmax') fail(`${outPath}.activation`, 'softmax_cross_entropy needs a softmax output layer');
    if (table.targetWidth !== 1) fail('data.targets', `softmax_cross_entropy needs one class index per row, got ${table.targetWidth} target columns`);
    let maxClass = 0;
    for (let r = 0; r < table.rows; r++) {
      const y = valueAt(table.targets, r, 0, 1);
      if (!Number.isInteger(y) || y < 0) fail(`data.targets[${r}]`, `class targets must be integers 0..C−1, got ${y}`);
      if (y > maxClass) maxClass = y;
    }
    classes = maxClass + 1;
    if (classes < 2) fail('data.targets', 'softmax_cross_entropy needs at least 2 classes in the targets');
    if (out.units !== classes) fail(`${outPath}.units`, `the output layer has ${out.units} units but the dataset has ${classes} classes`);
  } else {
    if (out.activation === 'softmax' && out.units < 2) fail(`${outPath}.units`, 'a softmax output needs at least 2 units');
    if (loss === 'binary_cross_entropy') {
      if (out.activation !== 'sigmoid') fail(`${outPath}.activation`, 'binary_cross_entropy needs a sigmoid output layer');
      const w = table.targetWidth;
      for (let r = 0; r < table.rows; r++) {
        for (let j = 0; j < w; j++) {
          const y = valueAt(table.targets, r, j, w);
          if (y !== 0 && y !== 1) fail(w === 1 ? `data.targets[${r}]` : `data.targets[${r}][${j}]`, `binary_cross_entropy targets must be 0 or 1, got ${y}`);
        }
      }
    }
    if (out.units !== table.targetWidth) {
      fail(`${outPath}.units`, `the output layer has ${out.units} units but the dataset has ${table.targetWidth} target column${table.targetWidth === 1 ? '' : 's'}`);
    }
  }

  if (!isInt(spec.epochs) || spec.epochs < 1) fail('epochs', `epochs must be an integer ≥ 1, got ${String(spec.epochs)}`);
  if (!isInt(spec.batchSize) || spec.batchSize < 1) fail('batchSize', `batchSize must be an integer ≥ 1, got ${String(spec.batchSize)}`);
  const vs = spec.validationSplit ?? 0;
  if (typeof vs !== 'number' || !(vs >= 0 && vs < 1)) fail('validationSplit', `validationSplit must be in [0, 1), got ${String(vs)}`);
  if (vs > 0 && table.rows - validationRows(table.rows, vs) < 1) fail('validationSplit', `validationSplit ${vs} leaves no training row out of ${table.rows}`);
  const seed = spec.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail('seed', 'seed must be a finite number');
  const dtype = spec.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') fail('dtype', `dtype must be float32 or float64, got ${String(dtype)}`);

  const n = spec.normalize ?? true;
  let normalizeFeatures: boolean, normalizeTargets: boolean;
  if (typeof n === 'boolean') {
    normalizeFeatures = n;
    normalizeTargets = false;
  } else if (n !== null && typeof n === 'object') {
    normalizeFeatures = n.features ?? true;
    normalizeTargets = n.targets ?? false;
    if (typeof normalizeFeatures !== 'boolean') fail('normalize.features', 'normalize.features must be true or false');
    if (typeof normalizeTargets !== 'boolean') fail('normalize.targets', 'normalize.targets must be true or false');
    if (normalizeTargets && loss !== 'mse') fail('normalize.targets', 'target normalization applies to mse (regression) only');
  } else {
    fail('normalize', 'normalize must be a boolean or {features, targets}');
  }

  let earlyStopping: ResolvedSpec['earlyStopping'];
  if (spec.earlyStopping !== undefined) {
    const e = spec.earlyStopping;
    if (e === null || typeof e !== 'object') fail('earlyStopping', 'earlyStopping must be an object with patience');
    if (!isInt(e.patience) || e.patience < 1) fail('earlyStopping.patience', 'earlyStopping.patience must be an integer ≥ 1');
    const minDelta = e.minDelta ?? 0;
    if (typeof minDelta !== 'number' || !(minDelta >= 0) || !Number.isFinite(minDelta)) fail('earlyStopping.minDelta', 'earlyStopping.minDelta must be a finite number ≥ 0');
    const restoreBest = e.restoreBest ?? true;
    if (typeof restoreBest !== 'boolean') fail('earlyStopping.restoreBest', 'earlyStopping.restoreBest must be true or false');
    earlyStopping = { patience: e.patience, minDelta, restoreBest };
  }
  const maxLossGrowth = spec.maxLossGrowth ?? DEFAULT_MAX_LOSS_GROWTH;
  if (typeof maxLossGrowth !== 'number' || !(maxLossGrowth > 1) || !Number.isFinite(maxLossGrowth)) {
    fail('maxLossGrowth', `maxLossGrowth must be a finite number > 1, got ${String(maxLossGrowth)}`);
  }
  const gradientCheck = spec.gradientCheck ? resolveGradientCheck(spec.gradientCheck) : undefined;

  if (spec.clip !== undefined) {
    if (spec.clip === null || typeof spec.clip !== 'object') fail('clip', 'clip must be an object with a type');
    validateClip(spec.clip);
  }
  if (spec.schedule !== undefined) {
    if (spec.schedule === null || typeof spec.schedule !== 'object') fail('schedule', 'schedule must be an object with a type');
    validateSchedule(spec.schedule);
  }

  return {
    layers,
    init,
    loss,
    task,
    classes,
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    normalizeFeatures,
    normalizeTargets,
    validationSplit: vs,
    seed,
    earlyStopping,
    maxLossGrowth,
    gradientCheck,
    dtype,
    schedule: spec.schedule,
    clip: spec.clip,
  };
}

/** Rows held out for validation: floor(rows·split), at least 1 when split > 0. */
export function validationRows(rows: number, split: number): number {
  return split > 0 ? Math.max(1, Math.floor(rows * split)) : 0;
}
