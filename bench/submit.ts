/**
 * `npm run bench:submit`: what one API process sustains for `POST /v1/jobs`, beside the bare peer
 * (bench/peers/bare-submit.ts: Fastify + BullMQ parsing the JSON and calling `queue.add`, the
 * stack's own floor) measured in the same run, ours and the peer alternating twice; and the latency
 * from submit to the first `progress` event. Starts its own API (and, for phase 2, one worker) as child
 * processes on a free port against REDIS_URL, under throwaway key prefixes it deletes afterwards.
 * Options (env): DURATION (s, default 10), CONNECTIONS (default 20), LATENCY_RUNS (default 20),
 * BASE (use an API that is already running there, with its workers, instead of starting one; the
 * jobs this creates stay in that deployment), API_ROOT (start the API and worker of another
 * checkout), API_NODE_ARGS (extra node flags for the API, e.g. `--cpu-prof`), PHASES (`1`, `2` or
 * `1,2`, default both), API_BUILD (default `dist`: the API and worker compiled by `npm run build`,
 * which this runs first, as `npm start` and the Docker image run them; `tsx`: from source under tsx,
 * as `npm run dev` and the tests do).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { apiNodeArgs, apiRoot, deletePrefix, freePort, stopChild, waitHealthy } from './api-child.js';

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p97_5: number; p99: number; average: number };
  non2xx: number;
  errors: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<CannonResult>;

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 20);
const LATENCY_RUNS = Number(process.env.LATENCY_RUNS ?? 20);

/** The API (and worker) compiled by `npm run build`, as `npm start` and the Dockerfile run them; API_BUILD=tsx: from source under tsx. */
const COMPILED = process.env.API_BUILD !== 'tsx';
if (COMPILED && !process.env.BASE) {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: apiRoot, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`npm run build failed in ${apiRoot}`);
}

function start(file: string, env: Record<string, string>): ChildProcess {
  const args = file === 'src/server.ts' ? apiNodeArgs : [];
  const compiled = COMPILED && !file.startsWith('bench/');
  const path = file.startsWith('bench/') ? resolve(import.meta.dirname, '..', file) : resolve(apiRoot, compiled ? `dist/${file.replace(/\.ts$/, '.js')}` : file);
  return spawn(process.execPath, [...args, ...(compiled ? [] : ['--import', 'tsx']), path], { cwd: apiRoot, env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
}
/** Deletes the keys a phase left under `prefix`. */
async function dropKeys(prefix: string) {
  const r = new Redis(REDIS_URL);
  await deletePrefix(r, prefix);
  r.disconnect();
}

async function env(prefix: string) {
  const port = await freePort();
  // Phase 1 keeps every job queued (no worker): lift the per-tenant active-job cap; the rate limiter stays on but never refuses.
  const limits = { MAX_ACTIVE_JOBS_PER_TENANT: '1000000000', RATE_LIMIT_MAX: '1000000000' };
  return { base: `http://127.0.0.1:${port}`, env: { REDIS_URL, PORT: String(port), HOST: '127.0.0.1', KEY_PREFIX: `${prefix}:`, QUEUE_PREFIX: `${prefix}-bull`, WORKER_CONCURRENCY: '1', PROGRESS_INTERVAL_MS: '0', ...limits } };
}

async function uploadDataset(base: string): Promise<string> {
  const rows = Array.from({ length: 200 }, (_, i) => `${Math.cos(i)},${Math.sin(i)},${i % 2}`);
  const res = await fetch(`${base}/v1/datasets?target=c`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `a,b,c\n${rows.join('\n')}\n` });
  return ((await res.json()) as { id: string }).id;
}

const spec = (datasetId: string) => ({
  datasetId,
  model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 0.01 },
  epochs: 2,
  batchSize: 32,
});

/** Milliseconds from POST /v1/jobs to the first `progress` event on the job's SSE stream. */
function firstProgress(base: string, body: string): Promise<number> {
  return new Promise((resolveMs, reject) => {
    const t0 = performance.now();
    fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      .then((r) => r.json() as Promise<{ id: string }>)
      .then(({ id }) => {
        const req = http.get(`${base}/v1/jobs/${id}/events`, (res) => {
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            buf += c;
            if (buf.includes('event: progress')) {
              resolveMs(performance.now() - t0);
              req.destroy();
            }
          });
          res.on('end', () => reject(new Error('stream ended without progress')));
        });
        req.on('error', () => {});
      }, reject);
  });
}

/** CPU seconds (user + system) a child has used so far, from /proc (Linux; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const tag = `bench-${randomBytes(3).toString('hex')}`;
const BASE = process.env.BASE;
console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}; node ${process.version}; redis ${REDIS_URL}; API ${BASE ? `at ${BASE}` : COMPILED ? 'compiled (dist/, as npm start runs it)' : 'from source under tsx (API_BUILD=tsx)'}`);

const PHASES = (process.env.PHASES ?? '1,2').split(',');

/** CPU seconds (user + system) the Redis server has used so far (`INFO cpu`): the whole server, so other clients count too. */
async function redisCpuSeconds(): Promise<number> {
  const r = new Redis(REDIS_URL);
  try {
    const info = await r.info('cpu');
    const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return get('used_cpu_user') + get('used_cpu_sys');
  } finally {
    r.disconnect();
  }
}

/** One autocannon measurement of `POST {base}/v1/jobs`: req/s, latency, CPU µs per request of `pid` and of the Redis server. */
async function measure(label: string, base: string, body: string, pid: number | undefined) {
  const cpu0 = cpuSeconds(pid);
  const redis0 = await redisCpuSeconds();
  const r = await autocannon({ url: `${base}/v1/jobs`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: DURATION });
  const cpuPerRequest = ((cpuSeconds(pid) - cpu0) / r.requests.total) * 1e6;
  const redisPerRequest = ((await redisCpuSeconds()) - redis0) / r.requests.total * 1e6;
  console.log(
    `${label}: ${r.requests.average.toFixed(0)} req/s average, ` +
      `latency p50 ${r.latency.p50} ms, p97.5 ${r.latency.p97_5} ms, p99 ${r.latency.p99} ms; ${r.requests.total} requests, non-2xx ${r.non2xx}, errors ${r.errors}` +
      (Number.isNaN(cpuPerRequest) ? '' : `; CPU ${cpuPerRequest.toFixed(0)} µs per request`) +
      (Number.isNaN(redisPerRequest) ? '' : `; Redis server CPU ${redisPerRequest.toFixed(0)} µs per request`),
  );
  return { rps: r.requests.average, cpu: cpuPerRequest };
}

// Phase 1: the API alone (no worker), so jobs only queue: the figure is the API + Redis path,
// beside the bare Fastify + BullMQ peer on the same Redis, alternating (ours, peer, ours, peer).
if (PHASES.includes('1')) {
  const { base, env: e } = BASE ? { base: BASE, env: {} } : await env(`${tag}-a`);
  const api = BASE ? undefined : start('src/server.ts', e);
  const peerPort = await freePort();
  const peerBase = `http://127.0.0.1:${peerPort}`;
  const peer = start('bench/peers/bare-submit.ts', { REDIS_URL, PORT: String(peerPort), QUEUE_PREFIX: `${tag}-peer` });
  try {
    await waitHealthy(base);
    await waitHealthy(peerBase);
    const body = JSON.stringify(spec(await uploadDataset(base)));
    const warm = { method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: 2 };
    await autocannon({ url: `${base}/v1/jobs`, ...warm });
    await autocannon({ url: `${peerBase}/v1/jobs`, ...warm });
    console.log(`POST /v1/jobs, ${CONNECTIONS} connections, ${DURATION}s each, one process each:`);
    const ours: { rps: number; cpu: number }[] = [], bare: { rps: number; cpu: number }[] = [];
    for (let round = 1; round <= 2; round++) {
      ours.push(await measure(`  ours (round ${round})`, base, body, api?.pid));
      bare.push(await measure(`  bare Fastify + BullMQ peer (round ${round})`, peerBase, body, peer.pid));
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const rpsRatio = sum(ours.map((o) => o.rps)) / sum(bare.map((b) => b.rps));
    const cpuRatio = sum(bare.map((b) => b.cpu)) / sum(ours.map((o) => o.cpu));
    console.log(`  ours / bare peer: ${rpsRatio.toFixed(2)}× the requests per second` + (Number.isFinite(cpuRatio) ? `; ${cpuRatio.toFixed(2)}× by CPU per request (peer µs / ours µs)` : ''));
  } finally {
    await stopChild(peer);
    await dropKeys(`${tag}-peer`);
    if (api) {
      await stopChild(api);
      await dropKeys(`${tag}-a`);
    }
  }
}

// Phase 2: API + one idle worker; jobs one at a time, so the figure is queue pickup + child start-up of the job + first event.
if (PHASES.includes('2')) {
  const { base, env: e } = BASE ? { base: BASE, env: {} } : await env(`${tag}-b`);
  const procs = BASE ? [] : [start('src/server.ts', e), start('workers/main.ts', e)];
  try {
    await waitHealthy(base);
    const body = JSON.stringify(spec(await uploadDataset(base)));
    await firstProgress(base, body); // warm-up: forks the sandbox child
    const ms: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) ms.push(await firstProgress(base, body));
    console.log(`submit → first progress event (idle worker, ${LATENCY_RUNS} runs): median ${pct(ms, 50).toFixed(1)} ms, p90 ${pct(ms, 90).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`);
  } finally {
    if (procs.length) {
      await Promise.all(procs.map(stopChild));
      await dropKeys(`${tag}-b`);
    }
  }
}
