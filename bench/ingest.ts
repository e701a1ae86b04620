/**
 * `npm run bench:ingest`: CSV upload speed and memory, the streaming parser beside the csv-parse
 * path it replaced, in one run. Generates seeded Fashion-MNIST-shaped CSVs (a label and 784 pixel
 * columns, half of them 0, the rest 1–255) of about 125 MB and 1 GB in a temp dir (deleted
 * afterwards), then for each size:
 * - parse in a fresh process (new and old path; the old one only up to OLD_MAX_MB, default 200:
 *   it holds the whole text plus a JS array per row, ~2 GB of heap for 125 MB): MiB/s of wall time
 *   and of CPU time (one core), peak RSS;
 * - upload through HTTP to a real API process started for the measurement (`src/server.ts`, local
 *   blob store in the temp dir, throwaway key prefix): MiB/s and the API's peak RSS (VmHWM) against
 *   the target 1.5 × stored binary + 100 MB; the old API (the commit before streaming ingest,
 *   exported with `git archive` into the temp dir) for the sizes up to OLD_MAX_MB.
 * Options (env): SIZES_MB (default `125,1024`), OLD_MAX_MB (200), HTTP (`0` skips the uploads),
 * OLD_REV (the old API's commit; default: the parent of the commit that added streaming ingest).
 */
import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { deletePrefix, freePort, stopChild, waitHealthy } from './api-child.js';

const ROOT = resolve(import.meta.dirname, '..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SIZES_MB = (process.env.SIZES_MB ?? '125,1024').split(',').map(Number);
const OLD_MAX_MB = Number(process.env.OLD_MAX_MB ?? 200);
const HTTP = process.env.HTTP !== '0';
const MiB = 1024 * 1024;

/** Writes a seeded Fashion-MNIST-shaped CSV of at least `mb` MB (10^6 bytes). */
async function generate(path: string, mb: number): Promise<{ bytes: number; rows: number }> {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const out = createWriteStream(path);
  const header = 'label,' + Array.from({ length: 784 }, (_, i) => `pixel${i + 1}`).join(',') + '\n';
  out.write(header);
  let bytes = header.length;
  let rows = 0;
  const target = mb * 1e6;
  while (bytes < target) {
    let block = '';
    for (let r = 0; r < 500 && bytes + block.length < target; r++, rows++) {
      let line = String(Math.floor(rnd() * 10));
      for (let c = 0; c < 784; c++) line += rnd() < 0.5 ? ',0' : `,${1 + Math.floor(rnd() * 255)}`;
      block += line + '\n';
    }
    bytes += block.length;
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error) => (e ? j(e) : r())));
  return { bytes, rows };
}

interface ParseResult {
  mode: string;
  bytes: number;
  rows: number;
  stored: number;
  ms: number;
  cpuMs: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
}

function parseIn(mode: 'new' | 'old', file: string): ParseResult | { error: string } {
  try {
    const out = execFileSync(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', join(ROOT, 'bench/ingest-child.ts'), mode, file], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop()!) as ParseResult;
  } catch (e) {
    return { error: String((e as { stderr?: string }).stderr ?? e).split('\n').find((l) => /Error|heap/.test(l)) ?? 'failed' };
  }
}

/** VmRSS and VmHWM (peak) of process `pid` in MiB. */
function rssOf(pid: number): { now: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The old API: the commit before streaming ingest, exported into `dir` with this checkout's node_modules. */
function exportOld(dir: string): string | null {
  const rev =
    process.env.OLD_REV ??
    (execSync(`git -C ${ROOT} log -1 --format=%H --grep='uploads stream into typed columns'`, { encoding: 'utf8' }).trim() || null);
  if (!rev) return null;
  const base = process.env.OLD_REV ? rev : `${rev}^`;
  mkdirSync(dir, { recursive: true });
  execSync(`git -C ${ROOT} archive ${base} | tar -x -C ${dir}`);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return execSync(`git -C ${ROOT} rev-parse --short ${base}`, { encoding: 'utf8' }).trim();
}

interface UploadResult {
  status: number;
  ms: number;
  stored?: number;
  apiRssBeforeMiB: number;
  apiPeakRssMiB: number;
  detail?: string;
}

/** Starts the API of `root`, uploads `file` as text/csv (Content-Length, streamed from disk), deletes the dataset, stops the API. */
async function upload(root: string, file: string, dataDir: string): Promise<UploadResult> {
  const port = await freePort();
  const prefix = `bench-ingest-${randomBytes(3).toString('hex')}`;
  const env = {
    ...process.env,
    REDIS_URL,
    PORT: String(port),
    HOST: '127.0.0.1',
    KEY_PREFIX: `${prefix}:`,
    QUEUE_PREFIX: `${prefix}-bull`,
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    MAX_DATASET_BYTES: String(4 * 1024 ** 3),
    MAX_DATASET_ROWS: '100000000',
  };
  const api: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/server.ts')], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(base);
    await new Promise((r) => setTimeout(r, 500));
    const before = rssOf(api.pid!).now;
    const size = statSync(file).size;
    const t0 = performance.now();
    const res = await new Promise<{ status: number; body: string }>((resolveRes, reject) => {
      const req = http.request(`${base}/v1/datasets?name=bench`, { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': String(size) } }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolveRes({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(req);
    });
    const ms = performance.now() - t0;
    const peak = rssOf(api.pid!).peak;
    const body = JSON.parse(res.body) as { id?: string; bytes?: number; detail?: string };
    if (body.id) await fetch(`${base}/v1/datasets/${body.id}`, { method: 'DELETE' });
    return { status: res.status, ms, stored: body.bytes, apiRssBeforeMiB: before, apiPeakRssMiB: peak, detail: body.detail };
  } finally {
    await stopChild(api);
    const r = new Redis(REDIS_URL);
    await deletePrefix(r, `${prefix}`);
    r.disconnect();
  }
}

const fmt = (n: number, d = 1) => n.toFixed(d);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const rows: string[] = [];
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  try {
    const oldRoot = HTTP && SIZES_MB.some((s) => s <= OLD_MAX_MB) ? join(dir, 'old-api') : null;
    const oldRev = oldRoot ? exportOld(oldRoot) : null;
    console.log(`bench:ingest  node ${process.version}, ${(await import('node:os')).cpus().length} cores, load ${load()}; old API: ${oldRev ?? 'not measured'}`);
    for (const mb of SIZES_MB) {
      const file = join(dir, `fashion-${mb}mb.csv`);
      const g = await generate(file, mb);
      const fileMiB = g.bytes / MiB;
      console.log(`\n${mb} MB: ${g.rows} rows × 785 columns, ${fmt(fileMiB)} MiB of CSV (load ${load()})`);
      for (const mode of ['new', 'old'] as const) {
        if (mode === 'old' && mb > OLD_MAX_MB) {
          rows.push(`| ${mb} MB | parse, old (csv-parse) | not run: needs the whole text plus a JS array per row (≈16× the file in heap at 125 MB) | | | |`);
          continue;
        }
        const r = parseIn(mode, file);
        if ('error' in r) {
          console.log(`  parse ${mode}: ${r.error}`);
          rows.push(`| ${mb} MB | parse, ${mode} | failed: ${r.error} | | | |`);
          continue;
        }
        const line = `${fmt(fileMiB / (r.ms / 1000))} MiB/s wall, ${fmt(fileMiB / (r.cpuMs / 1000))} MiB/s per CPU second, RSS ${fmt(r.rssBeforeMiB, 0)} → peak ${fmt(r.peakRssMiB, 0)} MiB (stored ${fmt(r.stored / MiB, 0)} MiB)`;
        console.log(`  parse ${mode}: ${line}`);
        rows.push(`| ${mb} MB | parse, ${mode === 'new' ? 'new (streaming scanner)' : 'old (csv-parse)'} | ${fmt(fileMiB / (r.ms / 1000))} | ${fmt(fileMiB / (r.cpuMs / 1000))} | ${fmt(r.peakRssMiB, 0)} | ${fmt(r.stored / MiB, 0)} |`);
      }
      if (!HTTP) continue;
      for (const which of ['new', 'old'] as const) {
        if (which === 'old' && (!oldRoot || mb > OLD_MAX_MB)) continue;
        const u = await upload(which === 'new' ? ROOT : oldRoot!, file, join(dir, `blobs-${which}`));
        const stored = u.stored ?? 0;
        const budget = (1.5 * stored) / MiB + 100;
        const verdict = u.status === 201 ? (u.apiPeakRssMiB <= budget ? `≤ ${fmt(budget, 0)} target: met` : `> ${fmt(budget, 0)} target: missed`) : `HTTP ${u.status} ${u.detail ?? ''}`;
        console.log(`  HTTP upload ${which}: ${u.status}, ${fmt(fileMiB / (u.ms / 1000))} MiB/s, API RSS ${fmt(u.apiRssBeforeMiB, 0)} → peak ${fmt(u.apiPeakRssMiB, 0)} MiB (${verdict})`);
        rows.push(`| ${mb} MB | HTTP upload to the API, ${which} | ${fmt(fileMiB / (u.ms / 1000))} | | ${fmt(u.apiPeakRssMiB, 0)} (idle ${fmt(u.apiRssBeforeMiB, 0)}; ${verdict}) | ${fmt(stored / MiB, 0)} |`);
      }
      rmSync(file, { force: true });
    }
    console.log(`\n| file | path | MiB/s (wall) | MiB/s per CPU second | peak RSS MiB | stored MiB |\n|---|---|---|---|---|---|\n${rows.join('\n')}`);
    console.log(`load at the end: ${load()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(dir)) console.error(`could not delete ${dir}`);
  }
}

await main();
