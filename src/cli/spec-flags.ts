/**
 * Builds a `POST /v1/jobs` body from `--spec file.json` and/or flags for the common fields.
 * Flags override the file. The server validates everything; here we only turn text into
 * numbers and say which flag was malformed.
 */
import type { Activation, LayerSpec, TrainingSpec } from '../core/types.js';

/** A flag the user got wrong; the CLI prints it with usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The parseArgs option table for spec flags (all strings or booleans, converted below). */
export const SPEC_FLAG_OPTIONS = {
  spec: { type: 'string' },
  layers: { type: 'string' },
  init: { type: 'string' },
  loss: { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  beta: { type: 'string' },
  beta1: { type: 'string' },
  beta2: { type: 'string' },
  epsilon: { type: 'string' },
  momentum: { type: 'string' },
  variant: { type: 'string' },
  nesterov: { type: 'boolean' },
  centered: { type: 'boolean' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  'decay-rate': { type: 'string' },
  gamma: { type: 'string' },
  'step-size': { type: 'string' },
  k: { type: 'string' },
  clip: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  'validation-split': { type: 'string' },
  seed: { type: 'string' },
  'no-normalize': { type: 'boolean' },
  patience: { type: 'string' },
  'min-delta': { type: 'string' },
  'gradient-check': { type: 'boolean' },
  dtype: { type: 'string' },
} as const;

export type SpecFlags = Partial<Record<keyof typeof SPEC_FLAG_OPTIONS, string | boolean>>;

/** A finite number from a flag, or a UsageError naming the flag. */
export function num(flag: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${flag} expects a number, got "${v}"`);
  return x;
}

/** `16:relu,16:tanh,2:softmax` → layer specs. */
export function parseLayers(text: string): LayerSpec[] {
  return text.split(',').map((part) => {
    const [u, a, extra] = part.trim().split(':');
    const units = Number(u);
    if (!Number.isInteger(units) || units < 1 || !a || extra !== undefined) {
      throw new UsageError(`--layers expects units:activation pairs like 16:relu,2:softmax, got "${part.trim()}"`);
    }
    return { units, activation: a as Activation };
  });
}

/** `global_norm:1`, `norm:5` or `value:0.5` → a clip spec. */
export function parseClip(text: string): NonNullable<TrainingSpec['clip']> {
  const [type, v] = text.split(':');
  const x = Number(v);
  if (!v || !Number.isFinite(x)) throw new UsageError(`--clip expects type:threshold like global_norm:1 or value:0.5, got "${text}"`);
  return type === 'value' ? { type: 'value', value: x } : { type: type as 'norm' | 'global_norm', maxNorm: x };
}

/** The loss that matches an output activation when `--loss` is not given. */
export function defaultLoss(last: Activation | undefined): TrainingSpec['loss'] {
  if (last === 'softmax') return 'softmax_cross_entropy';
  if (last === 'sigmoid') return 'binary_cross_entropy';
  return 'mse';
}

/** `--epochs` when neither the flag nor `--spec` gives one (the API requires the field). */
export const DEFAULT_EPOCHS = 50;
/** `--batch-size` when neither the flag nor `--spec` gives one (the API requires the field). */
export const DEFAULT_BATCH_SIZE = 32;

const drop = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/**
 * Merge `base` (from `--spec`) with flags. Returns the job body without `datasetId`.
 * Defaults only where the contract requires a field: optimizer adam, loss from the last activation,
 * epochs {@link DEFAULT_EPOCHS}, batch size {@link DEFAULT_BATCH_SIZE}.
 */
export function buildSpec(base: Partial<TrainingSpec>, f: SpecFlags): Partial<TrainingSpec> {
  const spec: Partial<TrainingSpec> = structuredClone(base);
  if (f.layers !== undefined) spec.model = { ...spec.model, layers: parseLayers(String(f.layers)) };
  if (f.init !== undefined) spec.model = { ...(spec.model ?? { layers: [] }), init: String(f.init) as never };
  const opt = drop({
    learningRate: num('lr', f.lr),
    beta: num('beta', f.beta),
    beta1: num('beta1', f.beta1),
    beta2: num('beta2', f.beta2),
    epsilon: num('epsilon', f.epsilon),
    momentum: num('momentum', f.momentum),
    variant: f.variant as 'ema' | 'classic' | undefined,
    nesterov: f.nesterov as boolean | undefined,
    centered: f.centered as boolean | undefined,
    weightDecay: num('weight-decay', f['weight-decay']),
  });
  if (f.optimizer !== undefined || Object.keys(opt).length || !spec.optimizer) {
    const type = (f.optimizer as string | undefined) ?? spec.optimizer?.type ?? 'adam';
    // a different optimizer type starts from a clean parameter set
    const kept = spec.optimizer && spec.optimizer.type === type ? spec.optimizer : {};
    spec.optimizer = { ...kept, ...opt, type } as TrainingSpec['optimizer'];
  }
  const sched = drop({ decayRate: num('decay-rate', f['decay-rate']), gamma: num('gamma', f.gamma), stepSize: num('step-size', f['step-size']), k: num('k', f.k) });
  if (f.schedule !== undefined || Object.keys(sched).length) {
    const type = (f.schedule as string | undefined) ?? spec.schedule?.type ?? 'constant';
    spec.schedule = { ...(spec.schedule?.type === type ? spec.schedule : {}), ...sched, type } as TrainingSpec['schedule'];
  }
  if (f.clip !== undefined) spec.clip = parseClip(String(f.clip));
  const epochs = num('epochs', f.epochs);
  if (epochs !== undefined) spec.epochs = epochs;
  const bs = num('batch-size', f['batch-size']);
  if (bs !== undefined) spec.batchSize = bs;
  spec.epochs ??= DEFAULT_EPOCHS;
  spec.batchSize ??= DEFAULT_BATCH_SIZE;
  const vs = num('validation-split', f['validation-split']);
  if (vs !== undefined) spec.validationSplit = vs;
  const seed = num('seed', f.seed);
  if (seed !== undefined) spec.seed = seed;
  if (f['no-normalize']) spec.normalize = false;
  const patience = num('patience', f.patience);
  const minDelta = num('min-delta', f['min-delta']);
  if (patience !== undefined) spec.earlyStopping = drop({ ...spec.earlyStopping, patience, minDelta });
  if (f['gradient-check']) spec.gradientCheck = true;
  if (f.dtype !== undefined) spec.dtype = String(f.dtype) as TrainingSpec['dtype'];
  if (!spec.loss && spec.model?.layers?.length) spec.loss = defaultLoss(spec.model.layers.at(-1)!.activation);
  return spec;
}
