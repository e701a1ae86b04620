/*
 * `npm run bench:scale`: how job throughput grows with worker processes. N small W2-sized jobs
 * (10,000 × 20 regression, 20-64-64-1, momentum, batch 32, EPOCHS epochs) go through the API
 * (its own process) to 1, 2 and 3 worker processes on this machine, then (as root) to 3 worker
 * hosts in network namespaces. Prints jobs/min and queue wait (created → started) p50/p99.
 *
 * Options (env): JOBS (default 60), EPOCHS (default 2).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Job } from '../src/schemas/job.js';
import { makeHosts, namespacesUnavailable, type NetnsHost } from '../test/helpers/netns.js';
import { killWorker, privateRedis, startWorker, type WorkerProc } from '../test/reliability/harness.js';
import { apiRoot, freePort, sleep, stopChild, waitHealthy } from './api-child.js';
import { W2, makeData } from './workloads.js';

const JOBS = Number(process.env.JOBS ?? 60);
const EPOCHS = Number(process.env.EPOCHS ?? 2);

interface Shape {
  label: string;
  workers: number;
  hosts: boolean;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function w2Csv(): string {
  const { x, y } = makeData(W2);
  const lines = [[...Array(W2.features).keys()].map((i) => `x${i}`).concat('y').join(',')];
  for (let r = 0; r < W2.rows; r++) lines.push(Array.from(x.subarray(r * W2.features, (r + 1) * W2.features)).concat(y[r]!).join(','));
  return lines.join('\n') + '\n';
}

async function runShape(shape: Shape, redisUrl: string, redisPort: number, hosts: NetnsHost[], csv: string) {
  const prefix = `bench-scale-${process.pid}-${shape.workers}${shape.hosts ? 'h' : ''}:`;
  const env = { KEY_PREFIX: prefix, QUEUE_PREFIX: `${prefix}bull`, LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '1' };
  const port = await freePort();
  const api = spawn(process.execPath, ['--import', 'tsx', resolve(apiRoot, 'src/server.ts')], {
    cwd: apiRoot,
    env: { ...process.env, ...env, REDIS_URL: redisUrl, PORT: String(port), HOST: '127.0.0.1', MAX_ACTIVE_JOBS_PER_TENANT: '100000', RATE_LIMIT_MAX: '0' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  const workers: WorkerProc[] = [];
  try {
    await waitHealthy(base);
    for (let i = 0; i < shape.workers; i++) {
      const h = shape.hosts ? hosts[i]! : undefined;
      workers.push(await startWorker({ ...env, LOG_LEVEL: 'info', REDIS_URL: h ? `redis://${h.hostAddr}:${redisPort}` : redisUrl }, h ? { netns: h.name } : {}));
    }
    const ds = (await (await fetch(`${base}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv })).json()) as { id: string };
    const spec = {
      datasetId: ds.id,
      model: { layers: [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }, { units: 1, activation: 'linear' }] },
      loss: 'mse',
      optimizer: { type: 'momentum', learningRate: 0.01, momentum: 0.9 },
      epochs: EPOCHS,
      batchSize: W2.batch,
      seed: 1,
    };
    const t0 = Date.now();
    const ids = await Promise.all(
      [...Array(JOBS)].map(async () => {
        const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
        if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
        return ((await res.json()) as Job).id;
      }),
    );
    const done = new Map<string, Job>();
    while (done.size < ids.length) {
      for (const id of ids) {
        if (done.has(id)) continue;
        const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as Job;
        if (j.status === 'completed') done.set(id, j);
        else if (j.status === 'failed' || j.status === 'cancelled') throw new Error(`job ${id} ${j.status}: ${JSON.stringify(j.error)}`);
      }
      if (done.size < ids.length) await sleep(100);
    }
    const jobs = [...done.values()];
    const end = Math.max(...jobs.map((j) => Date.parse(j.finishedAt!)));
    const waits = jobs.map((j) => Date.parse(j.startedAt!) - Date.parse(j.createdAt)).sort((a, b) => a - b);
    const train = jobs.map((j) => j.result!.durationMs).sort((a, b) => a - b);
    return { jobsPerMin: (JOBS / (end - t0)) * 60_000, waitP50: quantile(waits, 0.5), waitP99: quantile(waits, 0.99), trainP50: quantile(train, 0.5) };
  } finally {
    for (const w of workers) await killWorker(w);
    await stopChild(api);
  }
}

const why = namespacesUnavailable();
const hosts = why ? [] : makeHosts(3);
const dir = mkdtempSync(join(tmpdir(), 'bench-scale-redis-'));
const redisPort = await freePort();
const redis = await privateRedis(redisPort, dir, ['--bind', '127.0.0.1', ...hosts.map((h) => h.hostAddr), '--protected-mode', 'no', '--appendfsync', 'everysec']);
try {
  const csv = w2Csv();
  const shapes: Shape[] = [
    { label: '1 worker process', workers: 1, hosts: false },
    { label: '2 worker processes', workers: 2, hosts: false },
    { label: '3 worker processes', workers: 3, hosts: false },
    ...(hosts.length ? [{ label: '3 namespace hosts', workers: 3, hosts: true }] : []),
  ];
  console.log(`bench:scale: ${JOBS} jobs of W2 (${W2.rows} x ${W2.features}, 20-64-64-1, ${EPOCHS} epochs) each shape; ${cpus().length} cores; WORKER_CONCURRENCY=1`);
  if (why) console.log(`(namespace hosts skipped: ${why})`);
  console.log('| shape | jobs/min | queue wait p50 | queue wait p99 | training p50 |');
  console.log('|---|---|---|---|---|');
  for (const s of shapes) {
    const r = await runShape(s, redis.url, redisPort, hosts, csv);
    console.log(`| ${s.label} | ${Math.round(r.jobsPerMin)} | ${Math.round(r.waitP50)} ms | ${Math.round(r.waitP99)} ms | ${Math.round(r.trainP50)} ms |`);
  }
} finally {
  await redis.stop();
  for (const h of hosts) h.remove();
  rmSync(dir, { recursive: true, force: true });
}
