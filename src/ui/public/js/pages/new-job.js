// Upload a CSV (or pick a dataset) and submit a job. The API's problem+json errors[].path
// are shown next to the field whose data-path matches (longest prefix wins). Every choice and
// default comes from GET /v1/spec/options; the spec is built by the module the CLI uses.
import { api, ApiError, listItems, uploadWithProgress } from '../api.js';
import { fmtBytes, h } from '../format.js';
import { buildSpec as buildFromValues, parseLayers as layersOf, SpecInputError } from '../spec-builder.js';

/** `16:relu,2:softmax` → layers, or throws with a message for the field. */
export function parseLayers(text, activations) {
  return layersOf(text, activations);
}

/** "/optimizer/learningRate", ["optimizer","learningRate"], "body.optimizer.learningRate" → "optimizer.learningRate". */
export function normalizePath(path) {
  const s = Array.isArray(path) ? path.join('.') : String(path ?? '');
  return s.replace(/^\//, '').replace(/\//g, '.').replace(/\[(\d+)\]/g, '.$1').replace(/^body\.?/, '');
}

function field(label, control, { path, hint, forTypes, cls } = {}) {
  return h('div', { class: `field ${cls ?? ''}`, dataset: { path: path ?? control.name, ...(forTypes ? { for: forTypes } : {}) } },
    h('label', {}, h('span', { class: 'label' }, label), control),
    hint ? h('small', { class: 'hint' }, hint) : null,
    h('small', { class: 'field-error', role: 'alert' }));
}
const num = (name, value, attrs = {}) => h('input', { type: 'number', name, value, step: 'any', ...attrs });
const select = (name, options, value) => h('select', { name }, ...options.map((o) => h('option', { value: o, selected: o === value }, o || '(default)')));

export function newJobPage(view) {
  let dispose = () => {};
  api('GET', '/v1/spec/options')
    .then((options) => { dispose = buildPage(view, options); })
    .catch((err) => view.append(h('p', { class: 'error-box' }, `cannot load the spec options: ${err.message}`)));
  return () => dispose();
}

/** One input per optimizer parameter name (shared by the types that take it), from the options. */
function optimizerFields(options) {
  const byName = new Map();
  for (const o of options.optimizers) for (const f of o.fields) {
    const e = byName.get(f.name) ?? { f, types: [], defaults: {} };
    e.types.push(o.type);
    e.defaults[o.type] = f.default;
    byName.set(f.name, e);
  }
  return [...byName.values()].map(({ f, types, defaults }) => {
    const control = f.kind === 'boolean'
      ? h('input', { type: 'checkbox', name: f.name, dataset: { defaults: JSON.stringify(defaults) } })
      : f.kind === 'enum'
        ? select(f.name, ['', ...f.values], '')
        : num(f.name, '', { dataset: { defaults: JSON.stringify(defaults) }, ...(f.min !== undefined && !f.exclusiveMin ? { min: f.min } : {}) });
    return field(f.name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`), control, { path: `optimizer.${f.name}`, hint: f.description, forTypes: types.join(' '), cls: f.kind === 'boolean' ? 'check' : '' });
  });
}

/** One input per schedule parameter name (shared by the types that take it), from the options. */
function scheduleInputs(options) {
  const byName = new Map();
  for (const s of options.scheduleParameters) for (const f of s.fields) {
    const e = byName.get(f.name) ?? { f, types: [], hints: [] };
    e.types.push(s.type);
    e.hints.push(`${f.description}${f.default === undefined ? ' (required)' : `; default ${f.default}`}`);
    byName.set(f.name, e);
  }
  return [...byName.values()].map(({ f, types, hints }) =>
    field(f.name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`), num(f.name, '', { ...(f.min !== undefined && !f.exclusiveMin ? { min: f.min } : {}), ...(f.integer ? { step: 1 } : {}) }),
      { path: `schedule.${f.name}`, hint: hints.join('; '), forTypes: types.join(' '), cls: 'sched' }));
}

function buildPage(view, options) {
  const ACTIVATIONS = options.activations;
  const datasetSel = h('select', { name: 'datasetId' }, h('option', { value: '' }, 'upload a new CSV…'));
  const fileIn = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv' });
  const nameIn = h('input', { type: 'text', name: 'name', placeholder: 'from the file name' });
  const targetSel = h('select', { name: 'target' }, h('option', { value: '' }, '(last column)'));
  const dsInfo = h('p', { class: 'muted', id: 'dataset-info' });
  const layersIn = h('input', { type: 'text', name: 'layers', value: '16:tanh,16:tanh,2:softmax' });
  const optSel = select('optimizer', options.optimizers.map((o) => o.type), options.starter.optimizer);
  const clipSel = select('clip', ['', ...options.clipTypes], '');
  const schedSel = select('schedule', ['', ...options.schedules], '');
  const general = h('div', { class: 'error-box', id: 'form-errors', hidden: true });
  const submitBtn = h('button', { type: 'submit', id: 'submit-job', class: 'primary' }, 'Upload & train');
  let layersTouched = false;
  layersIn.addEventListener('input', () => { layersTouched = true; });

  const uploadBar = h('progress', { id: 'upload-progress', max: 1, value: 0 });
  const uploadText = h('span', { id: 'upload-rate', class: 'muted' });
  const uploadProgress = h('p', { class: 'upload-progress', hidden: true }, uploadBar, ' ', uploadText);
  const uploadBox = h('fieldset', { class: 'upload' }, h('legend', {}, 'New dataset (CSV with a header row)'),
    field('CSV file', fileIn, { path: 'file' }), field('Name', nameIn), field('Target column', targetSel));
  const form = h('form', { id: 'job-form', class: 'job-form', novalidate: true },
    general,
    h('fieldset', {}, h('legend', {}, 'Data'), field('Dataset', datasetSel, { path: 'datasetId' }), uploadBox, uploadProgress, dsInfo),
    h('fieldset', {}, h('legend', {}, 'Model'),
      field('Layers', layersIn, { path: 'model.layers', hint: `units:activation, comma-separated; activations: ${ACTIVATIONS.join(', ')}; the input width comes from the data` }),
      field('Init', select('init', ['', ...options.inits], ''), { path: 'model.init' }),
      field('Loss', select('loss', ['', ...options.losses], ''), { path: 'loss', hint: '(default) follows the last activation' })),
    h('fieldset', {}, h('legend', {}, 'Optimizer'),
      field('Type', optSel, { path: 'optimizer.type' }),
      ...optimizerFields(options)),
    h('fieldset', {}, h('legend', {}, 'Schedule and clipping'),
      field('Schedule', schedSel, { path: 'schedule.type' }),
      ...scheduleInputs(options),
      field('Clipping', clipSel, { path: 'clip.type' }),
      field('Threshold', num('clipThreshold', ''), {
        path: [...new Set(options.clipParameters.map((c) => `clip.${c.fields[0].name}`))].join(' '),
        hint: options.clipParameters.map((c) => c.fields[0].description).join('; '),
      })),
    h('fieldset', {}, h('legend', {}, 'Training'),
      field('Epochs', num('epochs', String(options.starter.epochs), { min: 1, step: 1 }), { path: 'epochs' }),
      field('Batch size', num('batchSize', String(options.starter.batchSize), { min: 1, step: 1 }), { path: 'batchSize' }),
      field('Validation split', num('validationSplit', '0.2', { min: 0, max: 0.99 }), { path: 'validationSplit' }),
      field('Seed', num('seed', '1', { step: 1 }), { path: 'seed' }),
      field('Normalize features', h('input', { type: 'checkbox', name: 'normalize', checked: options.defaults.normalize }), { path: 'normalize', cls: 'check' })),
    // rarely needed knobs, folded away; an API error on one of them opens the section
    h('details', { class: 'advanced', id: 'advanced' }, h('summary', {}, 'Advanced: early stopping, targets, precision, gradient check'),
      h('fieldset', {}, h('legend', {}, 'Advanced'),
        field('Early stopping patience (epochs)', num('patience', '', { min: 1, step: 1 }), { path: 'earlyStopping earlyStopping.patience', hint: 'empty: off; needs a validation split' }),
        field('Min delta', num('minDelta', '', { min: 0 }), { path: 'earlyStopping.minDelta' }),
        field('Restore best weights', h('input', { type: 'checkbox', name: 'restoreBest', checked: options.defaults.earlyStopping.restoreBest }), { path: 'earlyStopping.restoreBest', cls: 'check' }),
        field('Normalize targets (regression)', h('input', { type: 'checkbox', name: 'normalizeTargets' }), { path: 'normalize.targets', cls: 'check' }),
        field('Precision', select('dtype', ['', ...options.dtypes], ''), { path: 'dtype' }),
        field('Gradient check', h('input', { type: 'checkbox', name: 'gradientCheck' }), { path: 'gradientCheck', cls: 'check', hint: 'compare backprop with finite differences before training' }))),
    h('div', { class: 'actions' }, submitBtn));
  view.append(h('h1', {}, 'New training job'), form);

  const datasets = new Map();
  const showFor = (sel, cls) => {
    for (const f of form.querySelectorAll(`.field[data-for]${cls ? `.${cls}` : ''}`)) {
      if (cls || !f.classList.contains('sched')) f.hidden = !f.dataset.for.split(' ').includes(sel.value);
    }
  };
  // each parameter shows the selected optimizer's default (empty sends nothing: the core's default applies)
  const showDefaults = () => {
    for (const el of form.querySelectorAll('.field[data-for] [data-defaults]')) {
      const d = JSON.parse(el.dataset.defaults)[optSel.value];
      if (el.type === 'checkbox') el.checked = d === true;
      else el.placeholder = d === undefined ? '' : String(d);
    }
  };
  optSel.addEventListener('change', () => { showFor(optSel); showDefaults(); });
  showDefaults();
  schedSel.addEventListener('change', () => showFor(schedSel, 'sched'));
  showFor(optSel);
  showFor(schedSel, 'sched');

  function suggestLayers(ds) {
    if (!ds) return;
    const cls = ds.classes;
    dsInfo.textContent = `${ds.rows} rows, ${ds.features} features, ${ds.targetKind === 'integer' && cls ? `${cls} classes` : `${ds.targets} real target(s)`}`;
    if (layersTouched) return;
    const out = ds.targetKind === 'integer' && cls ? `${cls}:softmax` : `${ds.targets}:linear`;
    layersIn.value = `16:tanh,16:tanh,${out}`;
  }
  datasetSel.addEventListener('change', () => {
    uploadBox.hidden = datasetSel.value !== '';
    submitBtn.textContent = datasetSel.value ? 'Train' : 'Upload & train';
    suggestLayers(datasets.get(datasetSel.value));
    if (!datasetSel.value) dsInfo.textContent = '';
  });
  fileIn.addEventListener('change', async () => {
    const f = fileIn.files?.[0];
    if (!f) return;
    const head = (await f.slice(0, 64 * 1024).text()).replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
    const cols = head.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    targetSel.replaceChildren(...cols.map((c, i) => h('option', { value: c, selected: i === cols.length - 1 }, c)));
    if (!nameIn.value) nameIn.placeholder = f.name.replace(/\.csv$/i, '');
  });

  api('GET', '/v1/datasets').then((body) => {
    for (const d of listItems(body)) {
      datasets.set(d.id, d);
      datasetSel.append(h('option', { value: d.id }, `${d.name || d.id} (${d.rows}×${d.features})`));
    }
  }).catch(() => {});

  function clearErrors() {
    general.hidden = true;
    general.replaceChildren();
    for (const f of form.querySelectorAll('.field')) { f.classList.remove('invalid'); f.querySelector('.field-error').textContent = ''; }
  }
  /** Put each problem error next to its field; the rest (and the detail) go to the top box. */
  function showProblem(err, scope) {
    const problem = err instanceof ApiError ? err.problem : undefined;
    const errors = problem?.errors ?? [];
    const fields = [...form.querySelectorAll('.field')];
    const unplaced = [];
    for (const e of errors) {
      const p = normalizePath(e.path);
      let best;
      let bestLen = -1;
      for (const f of fields) {
        for (const fp of f.dataset.path.split(' ')) {
          if ((p === fp || p.startsWith(`${fp}.`)) && fp.length > bestLen) { best = f; bestLen = fp.length; }
        }
      }
      if (!best && scope === 'upload') best = fields.find((f) => f.dataset.path === 'file');
      if (best) {
        best.closest('details')?.setAttribute('open', '');
        best.classList.add('invalid');
        const msg = best.querySelector('.field-error');
        msg.textContent = (msg.textContent ? `${msg.textContent}; ` : '') + (p && p !== best.dataset.path ? `${p}: ${e.message}` : e.message);
      } else unplaced.push(`${p || '(body)'}: ${e.message}`);
    }
    const head = problem ? `${problem.title ?? 'Error'}${problem.detail ? `: ${problem.detail}` : ''}` : err.message;
    general.replaceChildren(h('strong', {}, head), ...unplaced.map((u) => h('div', {}, u)));
    general.hidden = false;
  }

  /** The form's fields as named values for the shared builder (hidden fields are not sent). */
  function buildSpec(fd) {
    const values = {};
    for (const [k, v] of fd.entries()) {
      const el = form.querySelector(`[name="${k}"]`);
      if (el?.closest('.field')?.hidden) continue;
      values[k] = v;
    }
    // checkboxes: FormData has only the checked ones; send a parameter's state when it differs from its default
    for (const el of form.querySelectorAll('input[type=checkbox][data-defaults]')) {
      if (el.closest('.field').hidden) continue;
      const d = JSON.parse(el.dataset.defaults)[optSel.value];
      values[el.name] = el.checked === (d === true) ? undefined : el.checked;
    }
    values.normalize = fd.get('normalize') === 'on';
    values.normalizeTargets = fd.get('normalizeTargets') === 'on';
    values.restoreBest = fd.get('restoreBest') === 'on';
    values.gradientCheck = fd.get('gradientCheck') === 'on';
    return buildFromValues(options, {}, values);
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const fd = new FormData(form);
    let spec;
    try {
      spec = buildSpec(fd);
    } catch (err) {
      const path = err instanceof SpecInputError && err.field !== 'layers' ? null : 'model.layers';
      const f = form.querySelector(`.field[data-path="${path ?? 'model.layers'}"]`) ?? form.querySelector('.field[data-path="model.layers"]');
      f.classList.add('invalid');
      f.querySelector('.field-error').textContent = err.message;
      return;
    }
    submitBtn.disabled = true;
    try {
      let datasetId = datasetSel.value;
      if (!datasetId) {
        const file = fileIn.files?.[0];
        if (!file) {
          const f = form.querySelector('.field[data-path="file"]');
          f.classList.add('invalid');
          f.querySelector('.field-error').textContent = 'choose a CSV file or an existing dataset';
          return;
        }
        const up = new FormData();
        up.append('name', nameIn.value || file.name.replace(/\.csv$/i, ''));
        if (targetSel.value) up.append('target', targetSel.value);
        up.append('file', file, file.name);
        try {
          // XMLHttpRequest: the browser reports the bytes sent, fetch does not
          const t0 = performance.now();
          uploadProgress.hidden = false;
          const show = (sent, total = file.size) => {
            const s = (performance.now() - t0) / 1000;
            uploadBar.value = total ? sent / total : 0;
            uploadText.textContent = `${fmtBytes(sent)} / ${fmtBytes(total)} · ${s > 0 ? fmtBytes(sent / s) : '–'}/s`;
          };
          show(0);
          const ds = await uploadWithProgress('/v1/datasets', up, show);
          const s = (performance.now() - t0) / 1000;
          uploadText.textContent = `uploaded ${fmtBytes(file.size)} in ${s.toFixed(1)} s (${fmtBytes(file.size / Math.max(s, 1e-3))}/s): ${ds.rows} rows × ${ds.features} features`;
          datasetId = ds.id;
          datasets.set(ds.id, ds);
          datasetSel.append(h('option', { value: ds.id }, `${ds.name || ds.id} (${ds.rows}×${ds.features})`));
          datasetSel.value = ds.id;
          uploadBox.hidden = true;
          suggestLayers(ds);
          // the suggested output layer now matches the data (unless the user typed the layers)
          if (!layersTouched) spec.model.layers = parseLayers(layersIn.value, ACTIVATIONS);
        } catch (err) {
          showProblem(err, 'upload');
          return;
        }
      }
      const job = await api('POST', '/v1/jobs', { body: { datasetId, ...spec } });
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (err) {
      showProblem(err, 'job');
    } finally {
      submitBtn.disabled = false;
    }
  });
  return () => {};
}
