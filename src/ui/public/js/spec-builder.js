// One builder of a training spec from named values, shared by the dashboard (form fields) and
// the CLI (flags). Every choice, parameter name and default comes from `GET /v1/spec/options`;
// nothing about the spec is restated here.
// Plain ES module: the API serves it to the browser, the CLI imports it (types in spec-builder.d.ts).

/** A value the user typed that cannot become its field; `field` is the value's name. */
export class SpecInputError extends Error {
  constructor(field, message) {
    super(message);
    this.name = 'SpecInputError';
    this.field = field;
  }
}

/** Every schedule parameter in the options (`{name, kind, …}`), once per name (the schedule `type` says which apply; the API checks). */
export function scheduleFields(options) {
  const byName = new Map();
  for (const s of options.scheduleParameters) for (const f of s.fields) if (!byName.has(f.name)) byName.set(f.name, f);
  return [...byName.values()];
}

/** `16:relu,16:tanh,2:softmax` → layers; the activations are the options'. */
export function parseLayers(text, activations, name = 'layers') {
  const parts = String(text).split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new SpecInputError(name, `${name} expects units:activation pairs like 16:relu,2:softmax`);
  return parts.map((p) => {
    const [u, a, extra] = p.split(':');
    const units = Number(u);
    if (!Number.isInteger(units) || units < 1 || !a || extra !== undefined) throw new SpecInputError(name, `${name} expects units:activation pairs like 16:relu,2:softmax, got "${p}"`);
    if (activations && !activations.includes(a)) throw new SpecInputError(name, `"${p}": activation must be one of ${activations.join(', ')}`);
    return { units, activation: a };
  });
}

/** The loss of a spec without one: by its output activation, as the options say. */
export function defaultLoss(options, lastActivation) {
  const m = options.defaults.lossForOutput;
  return m[lastActivation] ?? m.otherwise;
}

const absent = (v) => v === undefined || v === null || v === '';

function toNumber(name, v, label) {
  if (absent(v)) return undefined;
  if (typeof v === 'number') return v;
  const x = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(x)) throw new SpecInputError(name, `${label(name)} expects a number, got "${v}"`);
  return x;
}

function toBoolean(name, v, label) {
  if (absent(v)) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'on') return true;
  if (v === 'false' || v === 'off') return false;
  throw new SpecInputError(name, `${label(name)} expects true or false, got "${v}"`);
}

/** A field of the options' table (`{name, kind, …}`) from a raw value. */
function fieldValue(f, v, label) {
  if (f.kind === 'number') return toNumber(f.name, v, label);
  if (f.kind === 'boolean') return toBoolean(f.name, v, label);
  return absent(v) ? undefined : String(v);
}

/**
 * `global_norm:1`, `value:0.5` → a clip spec; a bare type takes `threshold` (the form's separate
 * field). The threshold's name (`value`, `maxNorm`) is the options' parameter of that clip type.
 */
export function parseClip(options, text, threshold, label = (n) => n) {
  const s = String(text);
  const [type, t] = s.includes(':') ? s.split(':') : [s, threshold];
  const entry = options.clipParameters.find((c) => c.type === type);
  if (!entry) throw new SpecInputError('clip', `${label('clip')}: the clip type must be one of ${options.clipParameters.map((c) => c.type).join(', ')}, got "${type}"`);
  const x = t === undefined || t === null || String(t).trim() === '' ? NaN : Number(t);
  if (!Number.isFinite(x)) throw new SpecInputError('clip', `${label('clip')} expects type:threshold like global_norm:1 or value:0.5, got "${s}"`);
  return { type, [entry.fields[0].name]: x };
}

/**
 * A `POST /v1/jobs` body without `datasetId`: `base` (a spec file, or {}) with `values` over it.
 * `values` are raw (strings from flags or form fields, booleans, numbers); absent or '' means
 * "not given". Names: `layers`, `init`, `loss`, `optimizer` and the parameters of the optimizer
 * type (as the options list them), `schedule` and its parameters, `clip` (`type:threshold`, or a
 * type with `clipThreshold`), `epochs`, `batchSize`, `validationSplit`, `seed`, `normalize`,
 * `normalizeTargets`, `patience`, `minDelta`, `restoreBest`, `dtype`, `gradientCheck`.
 * Required fields without a default (optimizer, epochs, batch size) take the options' `starter`;
 * the loss follows the last activation. `label(name)` names a value in an error (`--epochs`).
 * @throws SpecInputError for a value of the wrong kind; the API checks the rest.
 */
export function buildSpec(options, base, values, label = (n) => n) {
  const spec = structuredClone(base ?? {});
  const v = values ?? {};
  if (!absent(v.layers)) spec.model = { ...spec.model, layers: parseLayers(v.layers, options.activations, label('layers')) };
  if (!absent(v.init)) spec.model = { ...(spec.model ?? { layers: [] }), init: String(v.init) };

  const type = absent(v.optimizer) ? (spec.optimizer?.type ?? options.starter.optimizer) : String(v.optimizer);
  const table = options.optimizers.find((o) => o.type === type);
  const given = {};
  for (const f of table?.fields ?? []) {
    const x = fieldValue(f, v[f.name], label);
    if (x !== undefined) given[f.name] = x;
  }
  // a different optimizer type starts from a clean parameter set
  const kept = spec.optimizer?.type === type ? spec.optimizer : {};
  spec.optimizer = { ...kept, ...given, type };

  const sched = {};
  for (const f of scheduleFields(options)) {
    const x = fieldValue(f, v[f.name], label);
    if (x !== undefined) sched[f.name] = x;
  }
  if (!absent(v.schedule) || Object.keys(sched).length) {
    const st = absent(v.schedule) ? (spec.schedule?.type ?? 'constant') : String(v.schedule);
    spec.schedule = { ...(spec.schedule?.type === st ? spec.schedule : {}), ...sched, type: st };
  }
  if (!absent(v.clip)) spec.clip = parseClip(options, v.clip, v.clipThreshold, label);

  const epochs = toNumber('epochs', v.epochs, label);
  if (epochs !== undefined) spec.epochs = epochs;
  const batchSize = toNumber('batchSize', v.batchSize, label);
  if (batchSize !== undefined) spec.batchSize = batchSize;
  spec.epochs ??= options.starter.epochs;
  spec.batchSize ??= options.starter.batchSize;
  const vs = toNumber('validationSplit', v.validationSplit, label);
  if (vs !== undefined) spec.validationSplit = vs;
  const seed = toNumber('seed', v.seed, label);
  if (seed !== undefined) spec.seed = seed;

  const normalize = toBoolean('normalize', v.normalize, label);
  const normalizeTargets = toBoolean('normalizeTargets', v.normalizeTargets, label);
  if (normalizeTargets) spec.normalize = { features: normalize ?? options.defaults.normalize, targets: true };
  else if (normalize !== undefined && normalize !== options.defaults.normalize) spec.normalize = normalize;

  // Early stopping: sent when patience or minDelta is given, or restoreBest differs from the default.
  const patience = toNumber('patience', v.patience, label);
  const minDelta = toNumber('minDelta', v.minDelta, label);
  const restoreBest = toBoolean('restoreBest', v.restoreBest, label);
  if (patience !== undefined || minDelta !== undefined || (restoreBest !== undefined && restoreBest !== options.defaults.earlyStopping.restoreBest)) {
    const es = { ...spec.earlyStopping };
    if (patience !== undefined) es.patience = patience;
    if (minDelta !== undefined) es.minDelta = minDelta;
    if (restoreBest !== undefined) es.restoreBest = restoreBest;
    spec.earlyStopping = es;
  }
  if (!absent(v.dtype)) spec.dtype = String(v.dtype);
  if (toBoolean('gradientCheck', v.gradientCheck, label)) spec.gradientCheck = true;
  if (!absent(v.loss)) spec.loss = String(v.loss);
  if (!spec.loss && spec.model?.layers?.length) spec.loss = defaultLoss(options, spec.model.layers.at(-1).activation);
  return spec;
}
