// Compare: overlay the per-epoch curves of several jobs (GET /v1/jobs/{id}/metrics).
import { api, listItems, metricRows } from '../api.js';
import { banner } from '../banner.js';
import { lineChart } from '../charts.js';
import { fmt, h, optimizerLabel, shortId, statusBadge } from '../format.js';

const METRICS = { loss: 'training loss', smoothedLoss: 'smoothed loss', valLoss: 'validation loss', accuracy: 'accuracy', valAccuracy: 'validation accuracy', gradNormMean: 'grad norm (epoch mean)', lr: 'learning rate' };

export function comparePage(view, initialIds) {
  const selected = new Set(initialIds);
  const jobs = new Map();
  const histories = new Map();
  const metricSel = h('select', { name: 'metric', onchange: draw }, ...Object.entries(METRICS).map(([k, v]) => h('option', { value: k }, v)));
  const logBox = h('input', { type: 'checkbox', name: 'log', checked: true, onchange: draw });
  const picker = h('div', { class: 'picker', id: 'compare-picker' });
  const chartBox = h('div', { class: 'chart chart-compare', id: 'compare-chart' });
  const table = h('tbody');
  view.append(
    h('div', { class: 'toolbar' }, h('h1', {}, 'Compare'), h('label', {}, 'metric ', metricSel), h('label', {}, logBox, ' log scale')),
    h('div', { class: 'compare' }, h('section', { class: 'card' }, h('h2', {}, 'Jobs'), picker),
      h('section', { class: 'card grow' }, chartBox,
        h('table', { class: 'jobs' }, h('thead', {}, h('tr', {}, ...['job', 'status', 'optimizer', 'schedule', 'clip', 'epochs', 'final loss', 'val loss'].map((t) => h('th', {}, t)))), table))),
  );
  let chart;
  let stopped = false;

  async function loadJobs() {
    try {
      const list = listItems(await api('GET', '/v1/jobs?limit=100'));
      for (const j of list) jobs.set(j.id, j);
      for (const id of selected) if (!jobs.has(id)) jobs.set(id, await api('GET', `/v1/jobs/${encodeURIComponent(id)}`).catch(() => ({ id, status: '?' })));
      picker.replaceChildren(...[...jobs.values()].map((j) => h('label', { class: 'pick' },
        h('input', { type: 'checkbox', value: j.id, checked: selected.has(j.id), onchange: (e) => toggle(j.id, e.target.checked) }),
        ' ', shortId(j.id), ' ', statusBadge(j.status), ' ', h('span', { class: 'muted' }, optimizerLabel(j.spec)))));
      if (!jobs.size) picker.append(h('p', { class: 'muted' }, 'No jobs yet.'));
    } catch (e) {
      banner(`Could not load jobs: ${e.message}`);
    }
  }

  async function toggle(id, on) {
    on ? selected.add(id) : selected.delete(id);
    history.replaceState(null, '', `#/compare?ids=${[...selected].map(encodeURIComponent).join(',')}`);
    await loadHistories();
  }

  async function loadHistories() {
    await Promise.all([...selected].filter((id) => !histories.has(id)).map(async (id) => {
      try {
        histories.set(id, metricRows(await api('GET', `/v1/jobs/${encodeURIComponent(id)}/metrics`)));
      } catch {
        histories.set(id, []);
      }
    }));
    if (!stopped) draw();
  }

  function draw() {
    chart?.destroy();
    chart = undefined;
    chartBox.replaceChildren();
    const ids = [...selected];
    const key = metricSel.value;
    const maxEpochs = Math.max(0, ...ids.map((id) => histories.get(id)?.length ?? 0));
    const xs = Array.from({ length: maxEpochs }, (_, i) => i + 1);
    const series = ids.map((id) => ({ label: `${shortId(id)} ${optimizerLabel(jobs.get(id)?.spec)}` }));
    chart = lineChart(chartBox, { title: `${METRICS[key]} per epoch`, series, logY: logBox.checked, height: 360 });
    chart.set([xs, ...ids.map((id) => {
      const rows = histories.get(id) ?? [];
      return xs.map((_, i) => rows[i]?.[key] ?? null);
    })]);
    table.replaceChildren(...ids.map((id) => {
      const j = jobs.get(id) ?? { id };
      const s = j.spec ?? {};
      const last = histories.get(id)?.at(-1);
      return h('tr', {}, h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(id)}` }, shortId(id))), h('td', {}, statusBadge(j.status ?? '?')),
        h('td', {}, optimizerLabel(s)), h('td', {}, s.schedule ? s.schedule.type : 'constant'),
        h('td', {}, s.clip ? `${s.clip.type} ${s.clip.maxNorm ?? s.clip.value}` : 'none'), h('td', {}, histories.get(id)?.length ?? 0),
        h('td', { class: 'num' }, fmt(j.result?.loss ?? last?.loss)), h('td', { class: 'num' }, fmt(j.result?.valLoss ?? last?.valLoss)));
    }));
  }

  loadJobs().then(loadHistories);
  return () => { stopped = true; chart?.destroy(); };
}
