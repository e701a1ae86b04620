// Upload a CSV (or pick a dataset) and submit a job. The API's problem+json errors[].path
// are shown next to the field whose data-path matches (longest prefix wins).
import { api, ApiError, listItems } from '../api.js';
import { h } from '../format.js';

const ACTIVATIONS = ['relu', 'leaky_relu', 'tanh', 'sigmoid', 'linear', 'softmax'];
const INITS = ['', 'he_normal', 'he_uniform', 'xavier_normal', 'xavier_uniform', 'lecun_normal', 'lecun_uniform'];
const LOSSES = ['', 'softmax_cross_entropy', 'binary_cross_entropy', 'mse'];
const OPTIMIZERS = ['adam', 'adamw', 'rmsprop', 'momentum', 'sgd'];
const SCHEDULES = ['', 'constant', 'inverse_time', 'inverse_sqrt', 'exponential', 'step'];
const CLIPS = ['', 'global_norm', 'norm', 'value'];

/** `16:relu,2:softmax` → layers, or throws with a message for the field. */
export function parseLayers(text) {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new Error('at least one layer, e.g. 16:relu,2:softmax');
  return parts.map((p) => {
    const [u, a] = p.split(':');
    const units = Number(u);
    if (!Number.isInteger(units) || units < 1) throw new Error(`"${p}": units must be a positive integer`);
    if (!ACTIVATIONS.includes(a)) throw new Error(`"${p}": activation must be one of ${ACTIVATIONS.join(', ')}`);
    return { units, activation: a };
  });
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
  const datasetSel = h('select', { name: 'datasetId' }, h('option', { value: '' }, 'upload a new CSV…'));
  const fileIn = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv' });
  const nameIn = h('input', { type: 'text', name: 'name', placeholder: 'from the file name' });
  const targetSel = h('select', { name: 'target' }, h('option', { value: '' }, '(last column)'));
  const dsInfo = h('p', { class: 'muted', id: 'dataset-info' });
  const layersIn = h('input', { type: 'text', name: 'layers', value: '16:tanh,16:tanh,2:softmax' });
  const optSel = select('optimizer', OPTIMIZERS, 'adam');
  const clipSel = select('clip', CLIPS, '');
  const schedSel = select('schedule', SCHEDULES, '');
  const general = h('div', { class: 'error-box', id: 'form-errors', hidden: true });
  const submitBtn = h('button', { type: 'submit', id: 'submit-job', class: 'primary' }, 'Upload & train');
  let layersTouched = false;
  layersIn.addEventListener('input', () => { layersTouched = true; });

  const uploadBox = h('fieldset', { class: 'upload' }, h('legend', {}, 'New dataset (CSV with a header row)'),
    field('CSV file', fileIn, { path: 'file' }), field('Name', nameIn), field('Target column', targetSel));
  const form = h('form', { id: 'job-form', class: 'job-form', novalidate: true },
    general,
    h('fieldset', {}, h('legend', {}, 'Data'), field('Dataset', datasetSel, { path: 'datasetId' }), uploadBox, dsInfo),
    h('fieldset', {}, h('legend', {}, 'Model'),
      field('Layers', layersIn, { path: 'model.layers', hint: `units:activation, comma-separated; activations: ${ACTIVATIONS.join(', ')}; the input width comes from the data` }),
      field('Init', select('init', INITS, ''), { path: 'model.init' }),
      field('Loss', select('loss', LOSSES, ''), { path: 'loss', hint: '(default) follows the last activation' })),
    h('fieldset', {}, h('legend', {}, 'Optimizer'),
      field('Type', optSel, { path: 'optimizer.type' }),
      field('Learning rate', num('learningRate', '0.01', { min: 0 }), { path: 'optimizer.learningRate' }),
      field('β (ema momentum, rmsprop)', num('beta', ''), { path: 'optimizer.beta', forTypes: 'momentum rmsprop' }),
      field('β1', num('beta1', ''), { path: 'optimizer.beta1', forTypes: 'adam adamw' }),
      field('β2', num('beta2', ''), { path: 'optimizer.beta2', forTypes: 'adam adamw' }),
      field('ε', num('epsilon', ''), { path: 'optimizer.epsilon', forTypes: 'adam adamw rmsprop' }),
      field('Momentum μ', num('momentum', ''), { path: 'optimizer.momentum', forTypes: 'momentum rmsprop' }),
      field('Variant', select('variant', ['', 'classic', 'ema'], ''), { path: 'optimizer.variant', forTypes: 'momentum' }),
      field('Nesterov', h('input', { type: 'checkbox', name: 'nesterov' }), { path: 'optimizer.nesterov', forTypes: 'momentum', cls: 'check' }),
      field('Centered', h('input', { type: 'checkbox', name: 'centered' }), { path: 'optimizer.centered', forTypes: 'rmsprop', cls: 'check' }),
      field('Weight decay', num('weightDecay', ''), { path: 'optimizer.weightDecay' })),
    h('fieldset', {}, h('legend', {}, 'Schedule and clipping'),
      field('Schedule', schedSel, { path: 'schedule.type' }),
      field('Decay rate', num('decayRate', ''), { path: 'schedule.decayRate', forTypes: 'inverse_time', cls: 'sched' }),
      field('k', num('k', ''), { path: 'schedule.k', forTypes: 'inverse_sqrt', cls: 'sched' }),
      field('γ', num('gamma', ''), { path: 'schedule.gamma', forTypes: 'exponential step', cls: 'sched' }),
      field('Step size (epochs)', num('stepSize', ''), { path: 'schedule.stepSize', forTypes: 'step', cls: 'sched' }),
      field('Clipping', clipSel, { path: 'clip.type' }),
      field('Threshold', num('clipThreshold', ''), { path: 'clip.maxNorm clip.value', hint: 'max norm, or the value bound for "value"' })),
    h('fieldset', {}, h('legend', {}, 'Training'),
      field('Epochs', num('epochs', '50', { min: 1, step: 1 }), { path: 'epochs' }),
      field('Batch size', num('batchSize', '32', { min: 1, step: 1 }), { path: 'batchSize' }),
      field('Validation split', num('validationSplit', '0.2', { min: 0, max: 0.99 }), { path: 'validationSplit' }),
      field('Seed', num('seed', '1', { step: 1 }), { path: 'seed' }),
      field('Normalize features', h('input', { type: 'checkbox', name: 'normalize', checked: true }), { path: 'normalize', cls: 'check' })),
    // rarely needed knobs, folded away; an API error on one of them opens the section
    h('details', { class: 'advanced', id: 'advanced' }, h('summary', {}, 'Advanced: early stopping, targets, precision, gradient check'),
      h('fieldset', {}, h('legend', {}, 'Advanced'),
        field('Early stopping patience (epochs)', num('patience', '', { min: 1, step: 1 }), { path: 'earlyStopping earlyStopping.patience', hint: 'empty: off; needs a validation split' }),
        field('Min delta', num('minDelta', '', { min: 0 }), { path: 'earlyStopping.minDelta' }),
        field('Restore best weights', h('input', { type: 'checkbox', name: 'restoreBest' }), { path: 'earlyStopping.restoreBest', cls: 'check' }),
        field('Normalize targets (regression)', h('input', { type: 'checkbox', name: 'normalizeTargets' }), { path: 'normalize.targets', cls: 'check' }),
        field('Precision', select('dtype', ['', 'float32', 'float64'], ''), { path: 'dtype' }),
        field('Gradient check', h('input', { type: 'checkbox', name: 'gradientCheck' }), { path: 'gradientCheck', cls: 'check', hint: 'compare backprop with finite differences before training' }))),
    h('div', { class: 'actions' }, submitBtn));
  view.append(h('h1', {}, 'New training job'), form);

  const datasets = new Map();
  const showFor = (sel, cls) => {
    for (const f of form.querySelectorAll(`.field[data-for]${cls ? `.${cls}` : ''}`)) {
      if (cls || !f.classList.contains('sched')) f.hidden = !f.dataset.for.split(' ').includes(sel.value);
    }
  };
  optSel.addEventListener('change', () => showFor(optSel));
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

  function buildSpec(fd) {
    const n = (k) => (fd.get(k) === '' || fd.get(k) === null ? undefined : Number(fd.get(k)));
    const layers = parseLayers(String(fd.get('layers')));
    const last = layers.at(-1).activation;
    const spec = {
      model: { layers, ...(fd.get('init') ? { init: fd.get('init') } : {}) },
      loss: fd.get('loss') || (last === 'softmax' ? 'softmax_cross_entropy' : last === 'sigmoid' ? 'binary_cross_entropy' : 'mse'),
      optimizer: { type: fd.get('optimizer') },
      epochs: n('epochs'),
      batchSize: n('batchSize'),
      normalize: fd.get('normalizeTargets') === 'on' ? { features: fd.get('normalize') === 'on', targets: true } : fd.get('normalize') === 'on',
    };
    const o = spec.optimizer;
    for (const k of ['learningRate', 'beta', 'beta1', 'beta2', 'epsilon', 'momentum', 'weightDecay']) {
      const f = form.querySelector(`[name="${k}"]`).closest('.field');
      if (n(k) !== undefined && !f.hidden) o[k] = n(k);
    }
    if (o.type === 'momentum' && fd.get('variant')) o.variant = fd.get('variant');
    if (o.type === 'momentum' && fd.get('nesterov')) o.nesterov = true;
    if (o.type === 'rmsprop' && fd.get('centered')) o.centered = true;
    if (fd.get('schedule')) {
      spec.schedule = { type: fd.get('schedule') };
      for (const k of ['decayRate', 'k', 'gamma', 'stepSize']) {
        const f = form.querySelector(`[name="${k}"]`).closest('.field');
        if (n(k) !== undefined && !f.hidden) spec.schedule[k] = n(k);
      }
    }
    if (fd.get('clip')) spec.clip = fd.get('clip') === 'value' ? { type: 'value', value: n('clipThreshold') } : { type: fd.get('clip'), maxNorm: n('clipThreshold') };
    if (n('validationSplit') !== undefined) spec.validationSplit = n('validationSplit');
    if (n('seed') !== undefined) spec.seed = n('seed');
    if (n('patience') !== undefined || n('minDelta') !== undefined || fd.get('restoreBest')) {
      spec.earlyStopping = { patience: n('patience') };
      if (n('minDelta') !== undefined) spec.earlyStopping.minDelta = n('minDelta');
      if (fd.get('restoreBest')) spec.earlyStopping.restoreBest = true;
    }
    if (fd.get('dtype')) spec.dtype = fd.get('dtype');
    if (fd.get('gradientCheck')) spec.gradientCheck = true;
    return spec;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const fd = new FormData(form);
    let spec;
    try {
      spec = buildSpec(fd);
    } catch (err) {
      const f = form.querySelector('.field[data-path="model.layers"]');
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
          const ds = await api('POST', '/v1/datasets', { body: up });
          datasetId = ds.id;
          datasets.set(ds.id, ds);
          datasetSel.append(h('option', { value: ds.id }, `${ds.name || ds.id} (${ds.rows}×${ds.features})`));
          datasetSel.value = ds.id;
          uploadBox.hidden = true;
          suggestLayers(ds);
          // the suggested output layer now matches the data (unless the user typed the layers)
          if (!layersTouched) spec.model.layers = parseLayers(layersIn.value);
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
