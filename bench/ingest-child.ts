/*
 * One measurement of bench:ingest in a fresh process (so its peak RSS is its own):
 *   node --import tsx bench/ingest-child.ts new|old <file.csv>
 * prints one JSON line: bytes, rows, stored bytes, wall and CPU milliseconds, RSS before and at peak.
 * `new`: the streaming parser as the API runs it (file stream → readTable → splitTarget).
 * `old`: the csv-parse path the API had before (whole body in memory → parseCsvDataset → float32 copy).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { readTable, splitTarget } from '../src/api/ingest/read-table.js';
import { parseCsvDataset } from './legacy-csv-parse.js';

/** VmRSS / VmHWM of this process in MiB (the kernel's own peak). */
function rss(): { now: number; peak: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
}

const [mode, file] = process.argv.slice(2);
const bytes = statSync(file).size;
const before = rss().now;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let rows: number;
let stored: number;
if (mode === 'new') {
  const table = await readTable(createReadStream(file, { highWaterMark: 256 * 1024 }), { format: 'csv', maxBytes: 2 ** 40, limits: {} });
  const d = splitTarget(table);
  rows = d.rows;
  stored = d.features.byteLength + d.targets.byteLength;
} else {
  const body = readFileSync(file);
  const d = parseCsvDataset(body, undefined, {});
  // what DatasetStore.create did next: the float32 copies
  const X = Float32Array.from(d.features);
  const Y = Float32Array.from(d.targets);
  rows = d.rows;
  stored = X.byteLength + Y.byteLength;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ mode, bytes, rows, stored, ms, cpuMs: (cpu.user + cpu.system) / 1000, rssBeforeMiB: before, peakRssMiB: rss().peak }) + '\n');
