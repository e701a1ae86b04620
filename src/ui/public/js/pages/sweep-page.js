// Sweeps: #/sweeps lists them; #/sweeps/<id> overlays every trial's loss curve (pruned faded),
// a sortable trials table and a scatter of one parameter against the sweep metric. Polls every
// 2 s while the sweep runs (each finished trial's history is read once).
import { api, listItems, metricRows } from '../api.js';
import { banner } from '../banner.js';
import { lineChart, PALETTE } from '../charts.js';
import { fmt, fmtTime, h, shortId, statusBadge } from '../format.js';

const POLL_MS = 2000;
const ENDED = ['completed', 'failed', 'cancelled', 'pruned'];
const paramText = (v) => (typeof v === 'number' ? fmt(v) : typeof v === 'string' ? v : JSON.stringify(v));

export function sweepsPage(view) {
  const tbody = h('tbody');
  view.append(h('div', { class: 'toolbar' }, h('h1', {}, 'Sweeps')),
    h('table', { class: 'jobs', id: 'sweeps-table' }, h('thead', {}, h('tr', {}, ...['sweep', 'status', 'trials', 'epochs run', 'best', 'created'].map((t) => h('th', {}, t)))), tbody));
  let timer;
  let stopped = false;
  async function refresh() {
    try {
      const items = listItems(await api('GET', '/v1/sweeps?limit=100'));
      tbody.replaceChildren(...items.map((s) => h('tr', { dataset: { id: s.id } },
        h('td', {}, h('a', { href: `#/sweeps/${encodeURIComponent(s.id)}` }, shortId(s.id))), h('td', {}, statusBadge(s.status)),
        h('td', {}, `${s.trialCount}`), h('td', {}, `${s.epochsRun}`), h('td', {}, s.best ? fmt(s.best.metric) : '–'), h('td', {}, fmtTime(s.createdAt)))));
      if (!items.length) tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No sweeps yet (POST /v1/sweeps, or trainer sweep create).')));
      banner('');
    } catch (e) {
      banner(`Could not load sweeps: ${e.message}`);
    }
    if (!stopped) timer = setTimeout(refresh, POLL_MS);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

/** A scatter of `points` ({x, y, faded, label}) as SVG; x categorical when any x is not a number. */
function scatter(points, xLabel, yLabel) {
  const W = 520, H = 260, L = 60, B = 36, T = 12, R = 12;
  const numeric = points.every((p) => typeof p.x === 'number');
  const cats = numeric ? [] : [...new Set(points.map((p) => paramText(p.x)))];
  const xs = numeric ? points.map((p) => p.x) : points.map((p) => cats.indexOf(paramText(p.x)));
  const logX = numeric && xs.every((x) => x > 0) && Math.max(...xs) / Math.min(...xs) > 20;
  const fx = (x) => (logX ? Math.log10(x) : x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = numeric ? [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))] : [-0.5, cats.length - 0.5];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - B - T);
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', class: 'scatter', 'data-points': points.length });
  svg.append(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999' }), el('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#999' }));
  svg.append(el('text', { x: (L + W) / 2, y: H - 4, 'text-anchor': 'middle', 'font-size': 12 }, `${xLabel}${logX ? ' (log)' : ''}`));
  svg.append(el('text', { x: 12, y: T + 10, 'font-size': 12 }, yLabel));
  svg.append(el('text', { x: L - 4, y: sy(y1) + 4, 'text-anchor': 'end', 'font-size': 10 }, fmt(y1)), el('text', { x: L - 4, y: sy(y0), 'text-anchor': 'end', 'font-size': 10 }, fmt(y0)));
  if (numeric) svg.append(el('text', { x: sx(x0), y: H - B + 14, 'font-size': 10 }, paramText(Math.min(...xs))), el('text', { x: sx(x1), y: H - B + 14, 'text-anchor': 'end', 'font-size': 10 }, paramText(Math.max(...xs))));
  else cats.forEach((c, i) => svg.append(el('text', { x: sx(i), y: H - B + 14, 'text-anchor': 'middle', 'font-size': 10 }, c)));
  points.forEach((p, i) => {
    const c = el('circle', { cx: sx(numeric ? fx(p.x) : xs[i]), cy: sy(p.y), r: 5, fill: p.color, 'fill-opacity': p.faded ? 0.25 : 0.9, 'data-trial': p.trial });
    c.append(el('title', {}, p.label));
    svg.append(c);
  });
  return svg;
}

export function sweepPage(view, id) {
  const head = h('div', { class: 'toolbar' }, h('h1', {}, 'Sweep ', h('span', { class: 'muted' }, shortId(id))));
  const status = h('span', { id: 'sweep-status' });
  const summary = h('p', { id: 'sweep-summary', class: 'muted' });
  const chartBox = h('div', { class: 'chart chart-compare', id: 'sweep-chart' });
  const paramSel = h('select', { name: 'param', id: 'scatter-param', onchange: () => draw() });
  const scatterBox = h('div', { id: 'sweep-scatter' });
  const thead = h('thead');
  const tbody = h('tbody');
  const cancelBtn = h('button', { type: 'button', id: 'cancel-sweep', onclick: async () => {
    try { await api('POST', `/v1/sweeps/${encodeURIComponent(id)}/cancel`); refresh(); } catch (e) { banner(`Cancel failed: ${e.message}`); }
  } }, 'Cancel sweep');
  head.append(status, cancelBtn);
  view.append(head, summary,
    h('section', { class: 'card' }, h('h2', {}, 'Loss curves (pruned trials faded)'), chartBox),
    h('section', { class: 'card' }, h('h2', {}, 'Parameter vs metric'), h('label', {}, 'parameter ', paramSel), scatterBox),
    h('section', { class: 'card' }, h('h2', {}, 'Trials'), h('table', { class: 'jobs', id: 'trials-table' }, thead, tbody)));

  let sweep;
  const histories = new Map();
  let sortKey = 'index';
  let sortDir = 1;
  let chart;
  let chartKey = '';
  let timer;
  let stopped = false;

  const metricOf = (s) => (s.spec.metric.name === 'loss' ? 'loss' : 'valLoss');
  const colorOf = (t) => PALETTE[t.index % PALETTE.length];

  function drawChart() {
    const key = sweep.trials.map((t) => `${t.index}:${t.status}:${histories.get(t.jobId)?.length ?? 0}`).join(',');
    if (key === chartKey) return;
    chartKey = key;
    const shown = sweep.trials.filter((t) => histories.get(t.jobId)?.length);
    const field = metricOf(sweep);
    const epochs = Math.max(0, ...shown.map((t) => histories.get(t.jobId).length));
    chartBox.replaceChildren();
    chart = lineChart(chartBox, {
      title: field === 'loss' ? 'training loss' : 'validation loss',
      logY: true,
      height: 280,
      series: shown.map((t) => ({ label: `#${t.index}${t.status === 'pruned' ? ' (pruned)' : ''}`, color: colorOf(t) + (t.status === 'pruned' ? '40' : '') })),
    });
    chart.set([Array.from({ length: epochs }, (_, i) => i + 1), ...shown.map((t) => Array.from({ length: epochs }, (_, i) => histories.get(t.jobId)[i]?.[field] ?? null))]);
    chartBox.dataset.series = String(shown.length);
    chartBox.dataset.faded = String(shown.filter((t) => t.status === 'pruned').length);
  }

  function drawScatter() {
    const params = Object.keys(sweep.spec.parameters);
    if (paramSel.options.length !== params.length) paramSel.replaceChildren(...params.map((p) => h('option', { value: p }, p)));
    const p = paramSel.value || params[0];
    const pts = sweep.trials.filter((t) => t.metric !== null).map((t) => ({ x: t.params[p], y: t.metric, faded: t.status === 'pruned', color: colorOf(t), trial: t.index, label: `#${t.index} ${t.status}: ${paramText(t.params[p])} → ${fmt(t.metric)}` }));
    scatterBox.replaceChildren(pts.length ? scatter(pts, p, sweep.spec.metric.name) : h('p', { class: 'muted' }, 'No trial has a metric yet.'));
  }

  function drawTable() {
    const params = Object.keys(sweep.spec.parameters);
    const cols = [['index', '#'], ['status', 'status'], ['metric', sweep.spec.metric.name], ['epochsRun', 'epochs'], ...params.map((p) => [`param:${p}`, p])];
    const val = (t, k) => (k.startsWith('param:') ? t.params[k.slice(6)] : t[k]);
    thead.replaceChildren(h('tr', {}, ...cols.map(([k, label]) => h('th', { class: 'sortable', dataset: { key: k }, onclick: () => { sortDir = sortKey === k ? -sortDir : 1; sortKey = k; drawTable(); } },
      label, sortKey === k ? (sortDir > 0 ? ' ▲' : ' ▼') : ''))));
    const rows = [...sweep.trials].sort((a, b) => {
      const x = val(a, sortKey), y = val(b, sortKey);
      if (x === y) return a.index - b.index;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(paramText(x)).localeCompare(String(paramText(y)))) * sortDir;
    });
    tbody.replaceChildren(...rows.map((t) => h('tr', { dataset: { trial: t.index, status: t.status }, class: [t.status === 'pruned' ? 'faded' : '', sweep.best?.trial === t.index ? 'best' : ''].join(' ').trim() },
      h('td', {}, `${t.index}${sweep.best?.trial === t.index ? ' ★' : ''}`),
      h('td', {}, t.status === 'pending' ? statusBadge('pending') : h('a', { href: `#/jobs/${encodeURIComponent(t.jobId)}` }, statusBadge(t.status))),
      h('td', {}, t.metric === null ? '–' : fmt(t.metric)), h('td', {}, `${t.epochsRun}${t.prunedAtEpoch ? ' (pruned)' : ''}`),
      ...params.map((p) => h('td', {}, paramText(t.params[p]))))));
  }

  function draw() {
    if (!sweep) return;
    drawChart();
    drawScatter();
    drawTable();
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      sweep = await api('GET', `/v1/sweeps/${encodeURIComponent(id)}`);
      status.replaceChildren(statusBadge(sweep.status));
      cancelBtn.disabled = sweep.status !== 'running';
      const counts = Object.entries(sweep.counts).map(([k, n]) => `${n} ${k}`).join(', ');
      summary.textContent = `${sweep.trialCount} trials (${counts}), ${sweep.epochsRun} epochs run` +
        (sweep.best ? `; best: #${sweep.best.trial}, ${sweep.spec.metric.name} ${fmt(sweep.best.metric)} (${Object.entries(sweep.best.params).map(([k, v]) => `${k}=${paramText(v)}`).join(', ')})` : '') +
        (sweep.rungs.length ? `; ${sweep.rungs.length} ASHA rung decisions (${sweep.rungs.filter((r) => r.decision === 'prune').length} pruned)` : '');
      // Histories: ended trials once, running ones on every poll.
      await Promise.all(sweep.trials.filter((t) => t.status !== 'pending' && t.status !== 'queued' && !(ENDED.includes(t.status) && histories.get(t.jobId)?.ended)).map(async (t) => {
        const rows = metricRows(await api('GET', `/v1/jobs/${encodeURIComponent(t.jobId)}/metrics`).catch(() => []));
        rows.ended = ENDED.includes(t.status);
        histories.set(t.jobId, rows);
      }));
      draw();
      view.dataset.sweepStatus = sweep.status;
      banner('');
    } catch (e) {
      banner(`Could not load sweep: ${e.message}`);
    }
    if (!stopped && sweep?.status === 'running') timer = setTimeout(refresh, POLL_MS);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
