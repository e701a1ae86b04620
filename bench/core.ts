/*
 * `npm run bench:core`: samples/s of one training epoch for W1 and W2 (bench/workloads.ts) on
 * our core (native addon, wasm kernels and TS reference), TensorFlow.js (wasm and cpu backends)
 * and numpy, each in its own process on the same data bytes; median over the epochs after the
 * first (warm-up), each figure beside numpy's from the same run, peak RSS. Real data: when
 * Debian's dataset-fashion-mnist is installed, W1's net on Fashion-MNIST (ours vs numpy vs
 * tfjs-wasm, samples/s and test accuracy after the same epochs). `--scaling` adds W1 at other
 * batch sizes and hidden widths. Flags: --quick (fewer rows/epochs), --only=W1|W2|F, --no-peers,
 * --scaling, --threads (adds ours on 2 threads and numpy with 2 OpenBLAS threads).
 * ours-wasm-fma runs node with --experimental-wasm-relaxed-simd (Node 20 validates relaxed SIMD
 * only behind that flag). Our runs train on the file's arrays in place (TrainOptions.consumeData).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeIsas, nativeUnavailableReason } from '../src/native-kernels/index.js';
import { FASHION, FASHION_DIR, fashionMnist, flopPerSample, makeData, variant, W1, W2, writeData, type Workload } from './workloads.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const peers = !args.includes('--no-peers');
const scaling = args.includes('--scaling');
const threads = args.includes('--threads');
const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

interface Row { impl: string; cpuRates?: number[]; rates: number[]; losses: number[]; maxRssKb: number; rows: number; detail: string; error?: string; warmup?: number; testAccuracy?: number }

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/**
 * Median of the epochs after the warm-up ones (W2's epochs are ~10 ms, shorter than V8's
 * background tier-up of the wasm code from its baseline compiler: skip a few more there).
 */
const rate = (r: Row): number => {
  const warm = Math.min(r.warmup ?? 1, r.rates.length - 1);
  return median(r.rates.slice(Math.max(0, warm)));
};
/** The same median over samples per CPU-second of the implementation's process (NaN when not measured). */
const cpuRate = (r: Row): number => {
  if (!r.cpuRates?.length) return NaN;
  const warm = Math.min(r.warmup ?? 1, r.cpuRates.length - 1);
  return median(r.cpuRates.slice(Math.max(0, warm)));
};

function hasNumpy(): boolean {
  const r = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  return r.status === 0;
}

function runNode(impl: string, w: Workload, file: string, epochs: number, rows: number, nodeFlags: string[] = []): Row {
  const r = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', here('./run-impl.ts'), impl, JSON.stringify(w), file, String(epochs), String(rows)], {
    encoding: 'utf8', maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { impl, rows, ...JSON.parse(line) };
  } catch {
    return { impl, rows, rates: [NaN], losses: [], maxRssKb: 0, detail: '', error: (r.stderr || line).slice(-400) };
  }
}

function runNumpy(w: Workload, file: string, epochs: number, rows: number, threads = 1): Row {
  // `threads` OpenBLAS threads; the CORETYPE/L2 overrides set on this machine slow a current OpenBLAS: unset for this child only.
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  const impl = `numpy-${threads}t`;
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const cfg = { ...w, epochs, useRows: rows };
  const r = spawnSync('python3', [here('./peers/numpy_mlp.py'), file, JSON.stringify(cfg)], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  try {
    const o = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
    return { impl, rows, rates: o.rates, cpuRates: o.cpuRates, losses: o.losses, maxRssKb: o.maxRssKb, testAccuracy: o.testAccuracy ?? undefined, detail: `numpy ${o.numpy}, ${JSON.stringify(o.blas)}` };
  } catch {
    return { impl, rows, rates: [NaN], losses: [], maxRssKb: 0, detail: '', error: (r.stderr || String(r.error ?? r.signal ?? 'no output')).slice(-400) };
  }
}

const fmt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');

function printTable(w: Workload, rows: Row[]): void {
  const np1 = rows.find((r) => r.impl === 'numpy-1t');
  const flop = flopPerSample(w);
  const acc = rows.some((r) => r.testAccuracy !== undefined);
  console.log(`\n### ${w.name}: ${w.features}-${w.layers.join('-')}, batch ${w.batch}, ${w.optimizer.type}, ${w.rows.toLocaleString('en-US')} rows (${flop.toLocaleString('en-US')} FLOP/sample)\n`);
  console.log(`| implementation | samples/s (median) | GFLOP/s (6×params) | this / numpy-1t | samples per CPU-second | this / numpy-1t (CPU) | peak RSS MB | rows per epoch | epochs (warm-up) | last loss |${acc ? ' test accuracy |' : ''}`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|${acc ? '---|' : ''}`);
  for (const r of rows) {
    const s = rate(r);
    const ratio = np1 && r !== np1 ? (s / rate(np1)).toFixed(2) + '×' : '—';
    const rowsNote = r.rows === w.rows ? 'all' : `${r.rows.toLocaleString('en-US')} (slice)`;
    const accCell = acc ? ` ${r.testAccuracy !== undefined ? (100 * r.testAccuracy).toFixed(2) + ' %' : 'n/a'} |` : '';
    const c = cpuRate(r);
    const cpuRatio = np1 && r !== np1 && Number.isFinite(c) && Number.isFinite(cpuRate(np1)) ? (c / cpuRate(np1)).toFixed(2) + '×' : '—';
    console.log(`| ${r.impl} | ${fmt(s)} | ${((s * flop) / 1e9).toFixed(1)} | ${ratio} | ${fmt(c)} | ${cpuRatio} | ${(r.maxRssKb / 1024).toFixed(0)} | ${rowsNote} | ${r.rates.length} (${r.warmup ?? 1}) | ${r.losses.at(-1)?.toFixed(4) ?? 'n/a'} |${accCell}`);
  }
  // The issue's ratios, from this run.
  const find = (impl: string) => rows.find((r) => r.impl === impl && !r.error);
  const pair = (a: string, b: string, what = 'samples/s') => {
    const x = find(a), y = find(b);
    if (!x || !y) return;
    const cpu = Number.isFinite(cpuRate(x) / cpuRate(y)) ? `; per CPU-second ${(cpuRate(x) / cpuRate(y)).toFixed(2)}×` : '';
    console.log(`- **${a} / ${b}** (${what}): ${(rate(x) / rate(y)).toFixed(2)}× (${fmt(rate(x))} vs ${fmt(rate(y))})${cpu}`);
  };
  pair('ours-native', 'numpy-1t');
  pair('ours-native-2t', 'numpy-2t');
  pair('ours-native', 'ours-wasm-fma');
  pair('ours-native', 'tfjs-wasm');
  const on = find('ours-native'), n1 = find('numpy-1t');
  if (on && n1) console.log(`- **peak RSS ours-native / numpy-1t**: ${(on.maxRssKb / n1.maxRssKb).toFixed(2)}× (${(on.maxRssKb / 1024).toFixed(0)} vs ${(n1.maxRssKb / 1024).toFixed(0)} MB)`);
  for (const r of rows) {
    if (r.error) console.log(`- ${r.impl} failed: ${r.error.replace(/\n/g, ' ')}`);
    else console.log(`- ${r.impl}: ${r.detail}; per-epoch samples/s min ${fmt(Math.min(...r.rates))}, max ${fmt(Math.max(...r.rates))}${r.rates.length <= 5 ? ` (${r.rates.map(fmt).join(', ')})` : ''}`);
  }
}

function machine(): string {
  let model = cpus()[0]?.model ?? '?';
  try {
    model = execFileSync('lscpu', { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Model name'))?.split(':')[1].trim() ?? model;
  } catch { /* lscpu missing */ }
  return `${model}, ${cpus().length} cores, node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-core-'));
try {
  console.log(`machine: ${machine()}`);
  const numpy = peers && hasNumpy();
  spawnSync(process.execPath, ['--import', 'tsx', here('./run-impl.ts'), 'warm'], { stdio: 'ignore' });
  const native = nativeIsas();
  console.log(native.length ? `native kernels: ${native.join(', ')} (ours-native runs ${native[0]})` : `native kernels: unavailable (${nativeUnavailableReason()})`);
  const workloads = [W1, W2].filter((w) => !only || w.name === only);
  for (const w of workloads) {
    const file = join(dir, `${w.name}.bin`);
    writeData(file, makeData(w));
    const big = w.name === 'W1';
    // W2's epochs last ~10 ms: many of them, so a median is not one scheduler hiccup
    const E = big ? (quick ? 3 : 4) : quick ? 10 : 25;
    const Eslow = big ? E : quick ? 5 : 10;
    const warmup = big ? 1 : quick ? 3 : 5;
    const all = w.rows;
    // slow implementations train on a slice: samples/s does not depend on the rows per epoch
    const slice = (n: number): number => Math.min(all, quick ? Math.round(n / 4) : n);
    const rows: Row[] = [];
    if (native.length) {
      rows.push(runNode('ours-native', w, file, E, quick && big ? slice(60_000) : all));
      if (native.length > 1) rows.push(runNode('ours-native-avx2', w, file, E, quick && big ? slice(60_000) : all));
      if (threads) rows.push(runNode('ours-native-2t', w, file, E, quick && big ? slice(60_000) : all));
    }
    rows.push(runNode('ours-wasm', w, file, E, quick && big ? slice(60_000) : all));
    rows.push(runNode('ours-wasm', w, file, E, quick && big ? slice(60_000) : all, ['--experimental-wasm-relaxed-simd']));
    rows[rows.length - 1].impl = 'ours-wasm-fma';
    if (threads) rows.push(runNode('ours-wasm-2t', w, file, E, quick && big ? slice(60_000) : all));
    rows.push(runNode('ours-js', w, file, Eslow, big ? slice(12_800) : all));
    if (peers) {
      rows.push(runNode('tfjs-wasm', w, file, Eslow, big ? slice(12_800) : all));
      rows.push(runNode('tfjs-cpu', w, file, big ? 3 : 5, big ? slice(3_840) : slice(10_000)));
      if (numpy) rows.push(runNumpy(w, file, E, all));
      if (numpy && threads) rows.push(runNumpy(w, file, E, all, 2));
    }
    for (const r of rows) r.warmup = Math.min(warmup, r.rates.length - 2);
    printTable(w, rows);
  }

  // Real data: the same net on Fashion-MNIST, speed and test accuracy after the same epochs.
  if (!only || only === 'F') {
    const fm = fashionMnist();
    if (!fm) console.log(`\n### ${FASHION.name}: skipped (${FASHION_DIR} not found: \`apt-get install dataset-fashion-mnist\`)`);
    else {
      const w = FASHION;
      const file = join(dir, 'fashion.bin');
      writeData(file, fm);
      const E = quick ? 2 : 5;
      const rows: Row[] = [];
      if (native.length) rows.push(runNode('ours-native', w, file, E, w.rows));
      if (native.length && threads) rows.push(runNode('ours-native-2t', w, file, E, w.rows));
      rows.push(runNode('ours-wasm', w, file, E, w.rows, ['--experimental-wasm-relaxed-simd']));
      rows[rows.length - 1].impl = 'ours-wasm-fma';
      if (peers) {
        rows.push(runNode('tfjs-wasm', w, file, E, w.rows));
        if (numpy) rows.push(runNumpy(w, file, E, w.rows));
        if (numpy && threads) rows.push(runNumpy(w, file, E, w.rows, 2));
      }
      for (const r of rows) r.warmup = 1;
      printTable(w, rows);
    }
  }

  if (scaling) {
    const file = join(dir, 'W1.bin');
    writeData(file, makeData(W1));
    const E = 3;
    const rowsPer = quick ? 15_360 : 60_000;
    console.log(`\n### Scaling (W1 data, ${rowsPer.toLocaleString('en-US')} rows per epoch, median of ${E - 1} epochs after a warm-up)\n`);
    console.log('| variant | FLOP/sample | ours-wasm samples/s | ours GFLOP/s | numpy-1t samples/s | ours/numpy |');
    console.log('|---|---|---|---|---|---|');
    const cases: [string, Workload][] = [
      ...[16, 64, 128, 512].map((b): [string, Workload] => [`batch ${b}`, variant(W1, { batch: b })]),
      ...[64, 128, 256, 512, 1024].map((h): [string, Workload] => [`784-${h}-${h}-10, batch 128`, variant(W1, { layers: [h, h, 10] })]),
    ];
    for (const [label, w] of cases) {
      const ours = runNode('ours-wasm', w, file, E, rowsPer);
      const np = peers && numpy ? runNumpy(w, file, E, rowsPer) : undefined;
      const flop = flopPerSample(w);
      console.log(`| ${label} | ${flop.toLocaleString('en-US')} | ${fmt(rate(ours))} | ${((rate(ours) * flop) / 1e9).toFixed(1)} | ${np ? fmt(rate(np)) : 'n/a'} | ${np ? (rate(ours) / rate(np)).toFixed(2) + '×' : 'n/a'} |`);
    }
  }
  console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
