// Jobs list: polls GET /v1/jobs every 2 s; tick jobs to compare them.
import { api, listItems } from '../api.js';
import { fmt, fmtTime, h, optimizerLabel, shortId, statusBadge } from '../format.js';
import { banner } from '../banner.js';

const POLL_MS = 2000;

export function jobsPage(view) {
  const selected = new Set();
  const datasetNames = new Map();
  const compareBtn = h('button', { type: 'button', disabled: true, onclick: () => { location.hash = `#/compare?ids=${[...selected].map(encodeURIComponent).join(',')}`; } }, 'Compare selected');
  const statusSel = h('select', { name: 'status', onchange: () => refresh() }, h('option', { value: '' }, 'all'));
  // the statuses are the contract's: the served OpenAPI document's `status` filter of GET /v1/jobs
  api('GET', '/docs/json')
    .then((doc) => {
      const param = doc.paths['/v1/jobs'].get.parameters.find((p) => p.name === 'status' && p.in === 'query');
      for (const s of param.schema.enum) statusSel.append(h('option', { value: s }, s));
    })
    .catch(() => { /* the filter stays at "all" */ });
  const tbody = h('tbody');
  const info = h('span', { class: 'muted' });
  view.append(
    h('div', { class: 'toolbar' }, h('h1', {}, 'Jobs'), h('label', {}, 'status ', statusSel), compareBtn, h('a', { class: 'button', href: '#/new' }, 'New job'), info),
    h('table', { class: 'jobs', id: 'jobs-table' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'job'), h('th', {}, 'status'), h('th', {}, 'dataset'), h('th', {}, 'optimizer'), h('th', {}, 'epoch'), h('th', {}, 'loss'), h('th', {}, 'val loss'), h('th', {}, 'created'))),
      tbody),
  );

  let timer;
  let stopped = false;
  async function loadDatasets() {
    try {
      for (const d of listItems(await api('GET', '/v1/datasets'))) datasetNames.set(d.id, d.name || d.id);
    } catch { /* names are a nicety */ }
  }
  async function refresh() {
    clearTimeout(timer);
    try {
      const q = statusSel.value ? `&status=${encodeURIComponent(statusSel.value)}` : '';
      const jobs = listItems(await api('GET', `/v1/jobs?limit=100${q}`));
      if (jobs.some((j) => !datasetNames.has(j.datasetId))) await loadDatasets();
      render(jobs);
      banner('');
      info.textContent = `${jobs.length} job(s), updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      banner(e.status === 401 ? 'This server needs an API key: enter it at the top right.' : `Could not load jobs: ${e.message}`);
    }
    if (!stopped) timer = setTimeout(refresh, POLL_MS);
  }
  function render(jobs) {
    tbody.replaceChildren(...jobs.map((j) => {
      const p = j.progress ?? {};
      const r = j.result;
      const box = h('input', { type: 'checkbox', checked: selected.has(j.id), 'aria-label': `select ${j.id}`, onchange: (e) => {
        e.target.checked ? selected.add(j.id) : selected.delete(j.id);
        compareBtn.disabled = selected.size < 1;
      } });
      const epoch = p.epochs ? `${Math.min((p.epoch ?? 0) + 1, p.epochs)}/${p.epochs}` : '–';
      return h('tr', { dataset: { id: j.id, status: j.status } },
        h('td', {}, box),
        h('td', {}, h('a', { class: 'mono', href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id)),
        h('td', {}, statusBadge(j.status)),
        h('td', { title: j.datasetId }, datasetNames.get(j.datasetId) ?? shortId(j.datasetId)),
        h('td', {}, optimizerLabel(j.spec)),
        h('td', {}, epoch),
        h('td', { class: 'num' }, fmt(r?.loss ?? p.loss)),
        h('td', { class: 'num' }, fmt(r?.valLoss ?? p.valLoss)),
        h('td', {}, fmtTime(j.createdAt)));
    }));
    if (!jobs.length) tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No jobs yet. ', h('a', { href: '#/new' }, 'Submit one.'))));
  }
  loadDatasets().then(refresh);
  return () => { stopped = true; clearTimeout(timer); };
}
