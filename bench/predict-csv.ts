/**
 * `node --import tsx bench/predict-csv.ts`: 10,000 Fashion-MNIST-shaped rows (784 pixel columns
 * + label, ~21 MB of CSV) predicted in one `POST /v1/jobs/{id}/predict` with `text/csv` in and
 * out, over real HTTP, against a 784-128-10 model trained here for one epoch (in-process, the
 * worker's code path; real Redis under a throwaway prefix, local blobs in a temp dir). Prints rows/s
 * and the process RSS before and at its peak (VmHWM), to show the request's memory is bounded.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { duplicateClient } from '../src/queue/connection.js';
import { CheckpointStore } from '../src/storage/checkpoint-store.js';
import { CancelRegistry } from '../workers/cancel-registry.js';
import { runTrainingJob } from '../workers/run-job.js';
import { deletePrefix } from './api-child.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROWS = Number(process.env.ROWS ?? 10_000);
const rss = () => {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
};

function fashionCsv(rows: number, seed: number): string {
  let s = seed;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const lines = [['label', ...Array.from({ length: 784 }, (_, i) => `pixel${i + 1}`)].join(',')];
  for (let r = 0; r < rows; r++) {
    let line = String(r % 10);
    for (let c = 0; c < 784; c++) line += rnd() < 0.5 ? ',0' : `,${1 + Math.floor(rnd() * 255)}`;
    lines.push(line);
  }
  return lines.join('\n') + '\n';
}

const prefix = `bench-pcsv-${randomBytes(3).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'bench-pcsv-'));
const app = await buildApp(loadConfig({ REDIS_URL, KEY_PREFIX: prefix, QUEUE_PREFIX: `${prefix}bull`, LOG_LEVEL: 'warn', DATA_DIR: dir }), false);
try {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const up = await fetch(`${base}/v1/datasets?target=label`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: fashionCsv(500, 1) });
  const ds = (await up.json()) as { id: string };
  const spec = { datasetId: ds.id, model: { layers: [{ units: 128, activation: 'relu' }, { units: 10, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 1, batchSize: 64 };
  const job = (await (await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).json()) as { id: string };
  const { svc } = app;
  const ctx = { jobs: svc.jobs, datasets: svc.datasets, checkpoints: new CheckpointStore(svc.redis, svc.keys), cancels: new CancelRegistry(duplicateClient(svc.redis), svc.keys.cancelChannel()), progressIntervalMs: 1000 };
  if ((await runTrainingJob(ctx, job.id, { attemptsMade: 0, maxAttempts: 1 })) !== 'completed') throw new Error('training failed');
  await ctx.cancels.close();
  const body = Buffer.from(fashionCsv(ROWS, 2));
  global.gc?.();
  const before = rss().now;
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/jobs/${job.id}/predict`, { method: 'POST', headers: { 'content-type': 'text/csv', accept: 'text/csv' }, body });
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) lines++;
  }
  const ms = performance.now() - t0;
  const peak = rss().peak;
  console.log(`predict-csv: HTTP ${res.status}, ${ROWS} rows × 784 (${(body.length / 2 ** 20).toFixed(1)} MiB CSV in, ${(bytes / 2 ** 20).toFixed(1)} MiB CSV out, ${lines - 1} answer rows) in ${(ms / 1000).toFixed(2)} s = ${Math.round(ROWS / (ms / 1000))} rows/s; process RSS ${before.toFixed(0)} MiB before (the request body already in memory: ${(body.length / 2 ** 20).toFixed(1)} MiB), peak ${peak.toFixed(0)} MiB (VmHWM, whole run); load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
} finally {
  await app.close();
  const r = new Redis(REDIS_URL);
  await deletePrefix(r, prefix);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
