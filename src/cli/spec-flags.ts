/**
 * Builds a `POST /v1/jobs` body from `--spec file.json` and/or flags. Flags override the file.
 * The flags of the optimizer parameters come from the optimizers' field tables (a new parameter
 * is a new flag, `--kebab-case` of its name); the spec is built by the module the dashboard uses
 * (`src/ui/public/js/spec-builder.js`) from `GET /v1/spec/options`. The server validates.
 */
import { OPTIMIZER_FIELDS } from '../core/optimizers/registry.js';
import { SCHEDULE_FIELDS } from '../core/schedules.js';
import { specOptions, STARTER } from '../core/spec-options.js';
import type { LayerSpec, TrainingSpec } from '../core/types.js';
import { buildSpec as build, parseClip as clipOf, parseLayers as layersOf, SpecInputError, type RawValue, type ServedSpecOptions } from '../ui/public/js/spec-builder.js';

/** A flag the user got wrong; the CLI prints it with usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
type FlagOption = { type: 'string' | 'boolean' };

/** `--<kebab name>` of every optimizer parameter (boolean parameters are switches). */
const OPTIMIZER_FLAGS: Record<string, FlagOption> = Object.fromEntries(
  Object.values(OPTIMIZER_FIELDS).flatMap((t) => Object.entries(t)).map(([name, f]) => [kebab(name), { type: f.kind === 'boolean' ? 'boolean' : 'string' }]),
);

/** `--<kebab name>` of every schedule parameter, from the schedules' field table (value name → flag). */
const SCHEDULE_FLAGS: Record<string, string> = Object.fromEntries(
  Object.values(SCHEDULE_FIELDS).flatMap((t) => Object.keys(t)).map((name) => [name, kebab(name)]),
);

/** Spec values that are neither optimizer nor schedule parameters: value name → flag. */
const OTHER_FLAGS: Record<string, string> = {
  layers: 'layers', init: 'init', loss: 'loss', optimizer: 'optimizer', schedule: 'schedule', ...SCHEDULE_FLAGS,
  clip: 'clip', epochs: 'epochs', batchSize: 'batch-size', validationSplit: 'validation-split', seed: 'seed',
  patience: 'patience', minDelta: 'min-delta', dtype: 'dtype',
};

/** The parseArgs option table for spec flags (all strings or booleans, converted by the builder). */
export const SPEC_FLAG_OPTIONS: Record<string, FlagOption> = {
  spec: { type: 'string' },
  ...Object.fromEntries(Object.values(OTHER_FLAGS).map((f) => [f, { type: 'string' }])),
  lr: { type: 'string' },
  ...OPTIMIZER_FLAGS,
  'no-normalize': { type: 'boolean' },
  'normalize-targets': { type: 'boolean' },
  'no-restore-best': { type: 'boolean' },
  'gradient-check': { type: 'boolean' },
};

export type SpecFlags = Partial<Record<string, string | boolean>>;

/** The options this CLI was built with (used when the server does not serve `/v1/spec/options`). */
export const localSpecOptions = (): ServedSpecOptions => ({ ...specOptions(), starter: STARTER }) as unknown as ServedSpecOptions;

/** A finite number from a flag, or a UsageError naming the flag. */
export function num(flag: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${flag} expects a number, got "${v}"`);
  return x;
}

const usage = <T>(f: () => T): T => {
  try {
    return f();
  } catch (e) {
    if (e instanceof SpecInputError) throw new UsageError(e.message);
    throw e;
  }
};

/** `16:relu,16:tanh,2:softmax` → layer specs. */
export const parseLayers = (text: string): LayerSpec[] => usage(() => layersOf(text, undefined, '--layers'));
/** `global_norm:1`, `norm:5` or `value:0.5` → a clip spec. */
export const parseClip = (text: string, options: ServedSpecOptions = localSpecOptions()): NonNullable<TrainingSpec['clip']> => usage(() => clipOf(options, text, undefined, () => '--clip'));

/**
 * Merge `base` (from `--spec`) with flags. Returns the job body without `datasetId`. Defaults
 * only where the contract requires a field (the options' starter: optimizer adam, 50 epochs,
 * batches of 32) and the loss from the last activation.
 */
export function buildSpec(base: Partial<TrainingSpec>, f: SpecFlags, options: ServedSpecOptions = localSpecOptions()): Partial<TrainingSpec> {
  const values: Record<string, RawValue> = {};
  const flagOf: Record<string, string> = { learningRate: 'lr' };
  for (const [name, flag] of Object.entries(OTHER_FLAGS)) values[name] = f[flag];
  for (const o of options.optimizers) for (const field of o.fields) {
    values[field.name] ??= f[kebab(field.name)];
    flagOf[field.name] ??= kebab(field.name);
  }
  values.learningRate = f.lr ?? f['learning-rate'];
  if (f['no-normalize']) values.normalize = false;
  if (f['normalize-targets']) values.normalizeTargets = true;
  if (f['no-restore-best']) values.restoreBest = false;
  if (f['gradient-check']) values.gradientCheck = true;
  const type = String(f.optimizer ?? base.optimizer?.type ?? options.starter.optimizer);
  const takes = options.optimizers.find((o) => o.type === type)?.fields.map((x) => x.name);
  for (const o of options.optimizers) for (const field of o.fields) {
    if (takes && !takes.includes(field.name) && values[field.name] !== undefined)
      throw new UsageError(`--${flagOf[field.name]} is not a parameter of ${type}; ${type} takes ${takes.map((n) => `--${flagOf[n]}`).join(', ')}`);
  }
  const label = (name: string) => `--${flagOf[name] ?? (OTHER_FLAGS as Record<string, string>)[name] ?? kebab(name)}`;
  return usage(() => build(options, base, values, label));
}
