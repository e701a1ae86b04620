// One job: live curves from its SSE stream, status, spec, result, model download, cancel.
import { api, ApiError, listItems, metricRows } from '../api.js';
import { banner } from '../banner.js';
import { lineChart } from '../charts.js';
import { fmt, fmtDuration, fmtPct, fmtRate, fmtTime, h, optimizerLabel, statusBadge } from '../format.js';
import { followEvents } from '../sse.js';

const TERMINAL = ['completed', 'failed', 'cancelled', 'pruned'];

/** A progress event's running count of clipped steps (`clipped` in events written before the rename). */
const clippedSteps = (p) => p.clippedSteps ?? p.clipped ?? 0;

const DIVERGED_WHAT = { loss: 'the loss exploded or went non-finite', gradient: 'a gradient went non-finite', weights: 'the weights went non-finite' };

/**
 * What happened to a job that ended before its first progress event: diverged inside an epoch
 * (a short epoch can end before the first step event), stopped during training, or never trained.
 * Epochs are shown 1-based, as in the progress line.
 */
export function endedWithoutProgress(job) {
  const e = job.error;
  const why = e ? `${e.code}${e.path ? ` at ${e.path}` : ''} — ${e.message}` : '';
  if (e?.code === 'diverged' && Number.isInteger(e.epoch)) {
    const where = `epoch ${e.epoch + 1}/${job.spec?.epochs ?? '?'}${Number.isInteger(e.step) ? `, step ${e.step}` : ''}`;
    return `failed during training: diverged in ${where} before the first progress event (${DIVERGED_WHAT[e.what] ?? 'training went non-finite'}) — ${e.message}`;
  }
  if (job.startedAt) return `${job.status} during training, before the first progress event${why ? `: ${why}` : ''}`;
  return `${job.status} before training${why ? `: ${why}` : ''}`;
}

/** The metrics of POST /evaluate: a summary, the per-class table and the confusion matrix as a heat map. */
export function evaluationView(r) {
  const summary = r.confusionMatrix
    ? [['rows', r.rows], ['loss', fmt(r.loss)], ['accuracy', fmtPct(r.accuracy)]]
    : [['rows', r.rows], ['loss', fmt(r.loss)], ['mse', fmt(r.mse)], ['mae', fmt(r.mae)], ['r²', fmt(r.r2)]];
  const out = [h('dl', { class: 'meta', id: 'evaluate-metrics' }, ...summary.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))];
  if (!r.confusionMatrix) return out;
  out.push(h('table', { class: 'per-class' },
    h('tr', {}, ...['class', 'precision', 'recall', 'F1', 'support'].map((c) => h('th', {}, c))),
    ...r.perClass.map((c) => h('tr', {}, h('td', {}, String(c.class)), h('td', {}, fmt(c.precision)), h('td', {}, fmt(c.recall)), h('td', {}, fmt(c.f1)), h('td', {}, String(c.support))))));
  // each cell shaded by its share of the true class's rows: the diagonal is what the model gets right
  const m = r.confusionMatrix;
  out.push(h('table', { class: 'confusion', id: 'confusion-matrix' },
    h('caption', {}, 'confusion matrix: rows are true classes, columns predicted; shade = share of the row'),
    h('tr', {}, h('th', {}, ''), ...m.map((_, j) => h('th', {}, String(j)))),
    ...m.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      return h('tr', {}, h('th', {}, String(i)), ...row.map((v, j) => {
        const share = v / total;
        const td = h('td', { class: i === j ? 'diag' : '', title: `true ${i}, predicted ${j}: ${v} (${(share * 100).toFixed(1)}% of class ${i})`, dataset: { share: share.toFixed(4) } }, String(v));
        // CSSOM, not a style attribute: the CSP allows no inline styles
        td.style.backgroundColor = `rgba(37, 99, 235, ${(0.08 + 0.92 * share).toFixed(3)})`;
        if (share > 0.5) td.style.color = '#fff';
        return td;
      }));
    })));
  return out;
}

export function jobPage(view, id) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const statusEl = h('span', { id: 'job-status' });
  const streamEl = h('span', { id: 'stream-state', class: 'muted' }, 'connecting');
  const progressEl = h('p', { id: 'job-progress', class: 'progress-line' }, 'waiting for the first progress event…');
  const downloadBtn = h('button', { type: 'button', id: 'download-model', disabled: true, onclick: downloadModel }, 'Download model');
  const onnxBtn = h('button', { type: 'button', id: 'download-onnx', disabled: true, title: 'ONNX (opset 13): runs in onnxruntime; takes raw features', onclick: downloadOnnx }, 'ONNX');
  const tfjsBtn = h('button', { type: 'button', id: 'download-tfjs', disabled: true, title: 'TensorFlow.js layers model: model.json + weights.bin for tf.loadLayersModel', onclick: downloadTfjs }, 'TF.js');
  const checkpointsEl = h('section', { id: 'job-checkpoints', class: 'card', hidden: true });
  const evalSel = h('select', { id: 'evaluate-dataset', name: 'evaluateDataset' });
  const evalBtn = h('button', { type: 'button', id: 'evaluate-job', onclick: evaluate }, 'Evaluate');
  const evalOut = h('div', { id: 'evaluate-result' });
  const evaluateEl = h('section', { id: 'job-evaluate', class: 'card', hidden: true },
    h('h2', {}, 'Evaluate on dataset'), h('p', {}, evalSel, ' ', evalBtn), evalOut);
  const cancelBtn = h('button', { type: 'button', id: 'cancel-job', class: 'danger', hidden: true, onclick: cancel }, 'Cancel');
  const resultEl = h('section', { id: 'job-result', class: 'card', hidden: true });
  const errorEl = h('div', { id: 'job-error', class: 'error-box', hidden: true });
  const specEl = h('pre', { id: 'job-spec', class: 'spec' });
  const metaEl = h('dl', { class: 'meta' });
  const charts = h('div', { class: 'charts' });
  const box = (cls) => h('div', { class: `chart ${cls}` });
  const lossBox = box('chart-loss'), lrBox = box('chart-lr'), gradBox = box('chart-grad'), clipBox = box('chart-clip');
  charts.append(lossBox, lrBox, gradBox, clipBox);
  view.append(
    h('div', { class: 'toolbar' }, h('h1', {}, 'Job ', h('code', {}, id)), statusEl, downloadBtn, onnxBtn, tfjsBtn, cancelBtn,
      h('a', { class: 'button', href: `#/compare?ids=${encodeURIComponent(id)}` }, 'Compare…'), streamEl),
    errorEl, progressEl, charts,
    h('div', { class: 'details' }, h('div', {}, resultEl, evaluateEl, checkpointsEl, h('section', { class: 'card' }, h('h2', {}, 'Job'), metaEl)),
      h('section', { class: 'card' }, h('h2', {}, 'Spec'), specEl)),
  );

  const loss = lineChart(lossBox, { title: 'Loss', series: [{ label: 'loss (epoch mean so far)' }, { label: 'smoothed loss' }, { label: 'val loss', points: true }], logY: true, height: 260 });
  const logToggle = h('label', { class: 'chart-toggle' }, h('input', { type: 'checkbox', name: 'lossLog', checked: true, onchange: (e) => loss.setLog(e.target.checked) }), ' log scale');
  lossBox.after(logToggle);
  const lr = lineChart(lrBox, { title: 'Learning rate', series: [{ label: 'lr' }], height: 160 });
  const grad = lineChart(gradBox, { title: 'Global gradient norm (log scale)', series: [{ label: 'grad norm (pre-clip)' }], logY: true, height: 180 });
  const clip = lineChart(clipBox, { title: 'Clip rate', series: [{ label: 'clipped steps / steps' }], height: 160, yRange: [0, 1] });
  let prev; // previous progress event, for the clip rate over each interval

  let hasModel = false; // a job cancelled mid-run or timed out keeps the model of its last epoch
  function setStatus(status) {
    statusEl.replaceChildren(statusBadge(status));
    downloadBtn.disabled = !(status === 'completed' || hasModel);
    onnxBtn.disabled = tfjsBtn.disabled = downloadBtn.disabled;
    if (evaluateEl.hidden && !downloadBtn.disabled) loadDatasets();
    evaluateEl.hidden = downloadBtn.disabled;
    cancelBtn.hidden = !(status === 'queued' || status === 'running');
  }

  let current; // the job as last read (for "continue from here")
  function renderJob(job) {
    if (!job) return;
    current = job;
    if (TERMINAL.includes(job.status)) loadCheckpoints();
    hasModel = Boolean(job.result?.weightsHash) || job.error?.code === 'timeout';
    setStatus(job.status);
    specEl.textContent = JSON.stringify(job.spec, null, 2);
    const rows = [['dataset', job.datasetId], ['optimizer', optimizerLabel(job.spec)], ['created', fmtTime(job.createdAt)],
      ['started', fmtTime(job.startedAt)], ['finished', fmtTime(job.finishedAt)], ['attempts', job.attempts ?? '–']];
    if (job.fromCheckpoint) rows.push(['started from', `${job.fromCheckpoint.jobId} after epoch ${job.fromCheckpoint.epoch}${job.fromCheckpoint.optimizerReset ? ' (fresh optimizer state)' : ''}`]);
    if (job.webhook) rows.push(['webhook', `${job.webhook.url} (${(job.webhook.events ?? ['completed', 'failed', 'cancelled']).join(', ')})`]);
    metaEl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
    if (job.error) {
      errorEl.hidden = false;
      errorEl.textContent = `${job.error.code}${job.error.path ? ` at ${job.error.path}` : ''}: ${job.error.message}`;
    }
    // a job that ended without any progress event: say what happened instead of "waiting for the first progress event…"
    if ((job.status === 'failed' || job.status === 'cancelled') && !prev && !job.progress) {
      progressEl.textContent = endedWithoutProgress(job);
      progressEl.dataset.terminal = job.status;
    }
    const r = job.result;
    if (r) {
      resultEl.hidden = false;
      const rows2 = [['loss', fmt(r.loss)], ['val loss', fmt(r.valLoss)], ['accuracy', fmtPct(r.accuracy)], ['val accuracy', fmtPct(r.valAccuracy)],
        ['epochs run', `${r.epochsRun}${r.stoppedEarly ? ' (stopped early)' : ''}`], ['duration', fmtDuration(r.durationMs)],
        ['samples/s', fmtRate(r.samplesPerSecond)], ['weights hash', r.weightsHash]];
      if (r.gradientCheck) rows2.push(['gradient check', `${r.gradientCheck.passed ? 'passed' : 'FAILED'} (max rel. error ${fmt(r.gradientCheck.maxRelativeError)})`]);
      resultEl.replaceChildren(h('h2', {}, 'Result'), h('dl', { class: 'meta' }, ...rows2.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
    }
  }

  function onProgress(p) {
    const x = p.stepsPerEpoch ? p.epoch + p.step / p.stepsPerEpoch : p.epoch + (p.kind === 'epoch' ? 1 : 0);
    const isEpochEnd = p.kind === 'epoch';
    loss.push(x, [p.loss, p.smoothedLoss, isEpochEnd ? p.valLoss : null]);
    lr.push(x, [p.lr]);
    grad.push(x, [p.gradNorm]); // the last step's norm
    if (prev && p.globalStep > prev.globalStep) clip.push(x, [(clippedSteps(p) - clippedSteps(prev)) / (p.globalStep - prev.globalStep)]);
    else if (!prev && p.globalStep > 0) clip.push(x, [clippedSteps(p) / p.globalStep]);
    prev = p;
    lastStepsPerEpoch = p.stepsPerEpoch;
    const parts = [`epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs}`, `step ${p.step}/${p.stepsPerEpoch}`, `loss ${fmt(p.loss)}`, `smoothed ${fmt(p.smoothedLoss)}`];
    if (p.valLoss !== undefined && p.valLoss !== null) parts.push(`val loss ${fmt(p.valLoss)}`);
    if (p.accuracy !== undefined && p.accuracy !== null) parts.push(`accuracy ${fmtPct(p.accuracy)}`);
    parts.push(`lr ${fmt(p.lr)}`, `grad norm ${fmt(p.gradNorm)}`, `${fmtRate(p.samplesPerSecond)} samples/s`);
    progressEl.textContent = parts.join(' · ');
  }

  let delivered = 0;
  const stream = followEvents(`${path}/events`, {
    onEvent(name, data, eventId) {
      // counts for tests and curious users: events drawn once each, and the last id seen
      streamEl.dataset.events = String(++delivered);
      if (eventId !== undefined) streamEl.dataset.lastId = String(eventId);
      if (name === 'progress' && data && typeof data === 'object') onProgress(data);
      else if (name === 'status') setStatus(data?.status ?? String(data));
      else if (TERMINAL.includes(name)) {
        setStatus(name);
        renderJob(data?.job ?? (data?.id ? data : undefined));
        // the terminal event's job may be partial: read the full record once
        api('GET', path).then(renderJob).catch(() => {});
        if (name === 'completed') loadHistory();
      }
    },
    onState(s) { streamEl.textContent = `stream: ${s}`; },
  });

  api('GET', path).then(renderJob).catch((e) => {
    if (e instanceof ApiError && e.status === 404) errorEl.textContent = `No job ${id}.`;
    else if (e instanceof ApiError && e.status === 401) banner('This server needs an API key: enter it at the top right.');
    else errorEl.textContent = e.message;
    errorEl.hidden = false;
  });

  /**
   * A finished job's full per-epoch history (GET …/metrics): progress events are rate-limited,
   * so a fast job streams only a few points; the history has every epoch.
   */
  async function loadHistory() {
    let rows;
    try {
      rows = metricRows(await api('GET', `${path}/metrics`));
    } catch {
      return;
    }
    if (!rows.length || rows.length <= loss.count) return;
    const xs = rows.map((r) => r.epoch + 1);
    loss.set([xs, rows.map((r) => r.loss), rows.map((r) => r.smoothedLoss), rows.map((r) => r.valLoss ?? null)]);
    lr.set([xs, rows.map((r) => r.lr)]);
    grad.set([xs, rows.map((r) => r.gradNormMean)]); // the epoch's mean
    // `clippedSteps` is a running total: the epoch's clipped steps over its steps
    const steps = lastStepsPerEpoch ?? 0;
    clip.set([xs, rows.map((r, i) => (steps > 0 ? Math.min(1, (r.clippedSteps - (i > 0 ? rows[i - 1].clippedSteps : 0)) / steps) : null))]);
  }
  let lastStepsPerEpoch;

  async function downloadModel() {
    try {
      const blob = await api('GET', `${path}/model`, { as: 'blob' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `model-${id}.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      errorEl.hidden = false;
      errorEl.textContent = `Download failed: ${e.message}`;
    }
  }

  /** Saves `blob` as `name` through a temporary link. */
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  async function downloadOnnx() {
    try {
      save(await api('GET', `${path}/model?format=onnx`, { as: 'blob', headers: { accept: 'application/octet-stream' } }), `model-${id}.onnx`);
    } catch (e) {
      errorEl.hidden = false;
      errorEl.textContent = `Download failed: ${e.message}`;
    }
  }

  /** The two files of a TF.js layers model, saved side by side (tf.loadLayersModel reads model.json, then weights.bin next to it). */
  async function downloadTfjs() {
    try {
      const exp = await api('GET', `${path}/model?format=tfjs`);
      save(new Blob([JSON.stringify(exp.files['model.json'])], { type: 'application/json' }), 'model.json');
      const bin = Uint8Array.from(atob(exp.files['weights.bin']), (c) => c.charCodeAt(0));
      save(new Blob([bin], { type: 'application/octet-stream' }), 'weights.bin');
    } catch (e) {
      errorEl.hidden = false;
      errorEl.textContent = `Download failed: ${e.message}`;
    }
  }

  /** Kept epoch-end checkpoints, each with "Continue from here" (a new job with more epochs, optionally another optimizer). */
  async function loadCheckpoints() {
    let items;
    try {
      ({ items } = await api('GET', `${path}/checkpoints`));
    } catch {
      return;
    }
    if (!items.length) return;
    checkpointsEl.hidden = false;
    const rows = items.map((k) => {
      const epochsIn = h('input', { type: 'number', name: 'epochs', min: k.epoch + 1, step: 1, value: Math.max(k.epoch + 1, (current?.spec?.epochs ?? k.epoch) * 2), class: 'narrow' });
      const optSel = h('select', { name: 'optimizer' }, h('option', { value: '' }, 'same optimizer'), ...['adam', 'adamw', 'rmsprop', 'momentum', 'sgd'].map((o) => h('option', { value: o }, o)));
      const go = h('button', { type: 'button', class: 'continue', onclick: () => continueFrom(k.epoch, Number(epochsIn.value), optSel.value) }, 'Continue from here');
      return h('tr', { dataset: { epoch: String(k.epoch) } }, h('td', {}, String(k.epoch), k.best ? ' ★' : ''), h('td', {}, fmt(k.loss)), h('td', {}, fmt(k.valLoss)),
        h('td', {}, fmtPct(k.valAccuracy ?? k.accuracy)), h('td', {}, h('label', {}, 'to epoch ', epochsIn)), h('td', {}, optSel), h('td', {}, go));
    });
    checkpointsEl.replaceChildren(h('h2', {}, 'Checkpoints'),
      h('table', { class: 'checkpoints' }, h('thead', {}, h('tr', {}, ...['epoch', 'loss', 'val loss', 'accuracy', '', '', ''].map((c) => h('th', {}, c)))), h('tbody', {}, ...rows)));
  }

  async function continueFrom(epoch, epochs, optimizer) {
    if (!current) return;
    const spec = { ...current.spec, datasetId: current.datasetId, epochs, fromCheckpoint: { jobId: id, epoch } };
    if (optimizer && optimizer !== current.spec.optimizer?.type) spec.optimizer = { type: optimizer };
    try {
      const job = await api('POST', '/v1/jobs', { body: spec });
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (e) {
      errorEl.hidden = false;
      errorEl.textContent = `Continue failed: ${e.message}`;
    }
  }

  let datasetsLoaded = false;
  async function loadDatasets() {
    if (datasetsLoaded) return;
    datasetsLoaded = true;
    try {
      const items = listItems(await api('GET', '/v1/datasets?limit=100'));
      evalSel.replaceChildren(...items.map((d) => h('option', { value: d.id }, `${d.name || d.id} (${d.rows}×${d.features})`)));
      if (current && items.some((d) => d.id === current.datasetId)) evalSel.value = current.datasetId;
    } catch (err) {
      evalOut.replaceChildren(h('p', { class: 'error-box' }, err.message));
    }
  }

  async function evaluate() {
    if (!evalSel.value) return;
    evalBtn.disabled = true;
    evalOut.replaceChildren(h('p', { class: 'muted' }, 'evaluating…'));
    try {
      evalOut.replaceChildren(...evaluationView(await api('POST', `${path}/evaluate`, { body: { datasetId: evalSel.value } })));
    } catch (err) {
      evalOut.replaceChildren(h('p', { class: 'error-box', id: 'evaluate-error' }, err.message));
    } finally {
      evalBtn.disabled = false;
    }
  }

  async function cancel() {
    try {
      renderJob(await api('POST', `${path}/cancel`));
    } catch (e) {
      errorEl.hidden = false;
      errorEl.textContent = `Cancel failed: ${e.message}`;
    }
  }

  return () => { stream.close(); for (const c of [loss, lr, grad, clip]) c.destroy(); };
}
