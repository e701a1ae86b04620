// Small formatting and DOM helpers (no innerHTML with data: text nodes only).

/** Four significant digits, exponent form when tiny or huge; '–' when missing. */
export function fmt(x) {
  if (x === undefined || x === null || x === '') return '–';
  if (typeof x !== 'number') return String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

/** Rates like samples/s: whole numbers with separators. */
export function fmtRate(x) {
  return typeof x === 'number' && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}

export function fmtPct(x) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–';
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * h('div', { class: 'x', dataset: { id: 1 }, onclick: fn }, child, 'text', ...)
 * Strings become text nodes, so server data is never parsed as HTML.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, dataset: { status } }, status);
}

/** Short id for legends: ids start with a shared time part, so keep the distinct tail. */
export function shortId(id) {
  return id && id.length > 14 ? `…${id.slice(-8)}` : id;
}

/** "adam lr 0.01" for a spec. */
export function optimizerLabel(spec) {
  const o = spec?.optimizer;
  if (!o) return '–';
  return o.learningRate !== undefined ? `${o.type} lr ${fmt(o.learningRate)}` : o.type;
}

/** Bytes in binary units: `12.3 MiB`. */
export function fmtBytes(n) {
  if (n === undefined || n === null || !Number.isFinite(n)) return '–';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}
