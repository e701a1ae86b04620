// Thin wrapper over uPlot (its minified build, served from /ui/vendor by a classic deferred
// script that defines the global before modules run): line charts that grow point by point.
const { uPlot } = globalThis;

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f', '#7c3aed', '#b45309'];

/** Axis tick text: exponent form for tiny or huge values (log-scale grad norms). */
function tick(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return '';
  return (Math.abs(t) < 1e-3 && t !== 0) || Math.abs(t) >= 1e5 ? t.toExponential(0) : String(Number(t.toPrecision(3)));
}

function widthOf(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width || el.parentElement?.getBoundingClientRect().width || 600));
}

/**
 * A chart with one x series and `series.length` y series.
 * @param {HTMLElement} el container (its data-points attribute tracks the point count)
 * @param {{ title: string, xLabel?: string, series: { label: string, color?: string, dash?: number[], points?: boolean }[], logY?: boolean, height?: number }} opts
 */
export function lineChart(el, { title, xLabel = 'epoch', series, logY = false, height = 220, yRange }) {
  const data = [[], ...series.map(() => [])];
  let log = logY;
  const clean = (y) => (log && !(y > 0) ? null : y ?? null);
  const build = () => new uPlot({
    title,
    width: widthOf(el),
    height,
    scales: { x: { time: false }, y: log ? { distr: 3 } : yRange ? { auto: false, range: yRange } : { auto: true } },
    axes: [{ label: xLabel }, { size: 64, values: (_, ticks) => ticks.map(tick) }],
    series: [
      { label: xLabel },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        width: 1.5,
        dash: s.dash,
        spanGaps: true,
        // markers only while they stay readable
        points: { show: s.points ? (u, _si, i0, i1) => i1 - i0 < 80 : false, size: 5 },
      })),
    ],
    legend: { live: true },
  }, data.map((col, i) => (i === 0 ? col : col.map(clean))), el);
  let u = build();
  let pending = false;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      u.setData(data.map((col, i) => (i === 0 ? col : col.map(clean))));
      el.dataset.points = String(data[0].length);
    });
  };
  const ro = new ResizeObserver(() => u.setSize({ width: widthOf(el), height }));
  ro.observe(el);
  el.dataset.points = '0';
  return {
    /** Append a point; `ys` aligns with `series`; null/undefined leaves a gap. */
    push(x, ys) {
      data[0].push(x);
      ys.forEach((y, i) => data[i + 1].push(y ?? null));
      redraw();
    },
    /** Replace all data: `cols` is [xs, ys1, ys2...]. */
    set(cols) {
      cols.forEach((c, i) => { data[i] = c.map((y) => y ?? null); });
      redraw();
    },
    /** Switch the y axis between linear and log (rebuilds the chart with the same data). */
    setLog(on) {
      if (on === log) return;
      log = on;
      u.destroy();
      u = build();
      el.dataset.log = String(log);
    },
    get count() { return data[0].length; },
    destroy() { ro.disconnect(); u.destroy(); },
  };
}
