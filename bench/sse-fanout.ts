/**
 * `npm run bench:sse`: 1,000 concurrent SSE clients on one running job, served by one API process.
 * Starts the API as a child process on a free port against REDIS_URL (throwaway key prefix,
 * deleted afterwards), creates a job record and plays its worker: appends `progress` events at
 * RATE per second, each carrying `ts` (this process's clock when it was written), then the
 * terminal event. Every client is a raw HTTP request in this process; the lag of one event at one
 * client is receive time − `ts` (so it includes this process's own parsing of 1,000 streams:
 * an upper bound on the server's part). Prints p50/p99/max lag, delivery counts, and the Redis
 * connections the API held while the clients were open.
 * Options (env): CLIENTS (default 1000), EVENTS (default 200), RATE (events/s, default 20),
 * API_ROOT (run `src/server.ts` of another checkout, to measure an older version the same way),
 * API_NODE_ARGS (extra node flags for the API, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { keysFor } from '../src/storage/keys.js';
import { JobStore } from '../src/storage/job-store.js';
import { apiNodeArgs, apiRoot, deletePrefix, freePort, sleep, stopChild, waitHealthy } from './api-child.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLIENTS = Number(process.env.CLIENTS ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 200);
const RATE = Number(process.env.RATE ?? 20);

const pct = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Redis connections this API holds for SSE: its hub's (`tsnn-sse-hub-<pid>`), or per-stream readers (`tsnn-sse`, before the hub). */
async function sseConnections(r: Redis, pid: number): Promise<number> {
  const list = (await r.client('LIST')) as string;
  return list.split('\n').filter((l) => l.includes(` name=tsnn-sse-hub-${pid} `) || l.includes(' name=tsnn-sse ')).length;
}

interface Client {
  got: number;
  terminal: boolean;
  lastId: number;
  outOfOrder: number;
}

const prefix = `bench-sse-${randomBytes(3).toString('hex')}:`;
const keys = keysFor(prefix);
const redis = new Redis(REDIS_URL);
const jobs = new JobStore(redis, keys);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}; node ${process.version}; API from ${apiRoot}`);
const api = spawn(process.execPath, [...apiNodeArgs, '--import', 'tsx', resolve(apiRoot, 'src/server.ts')], {
  cwd: apiRoot,
  env: { ...process.env, REDIS_URL, PORT: String(port), HOST: '127.0.0.1', KEY_PREFIX: prefix, QUEUE_PREFIX: `${prefix}bull`, LOG_LEVEL: 'warn', MAX_SSE_STREAMS_PER_KEY: String(CLIENTS + 10), RATE_LIMIT_MAX: '0' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const lags: number[] = [];
const clients: Client[] = [];
try {
  await waitHealthy(base);
  const job = await jobs.create('default', { datasetId: 'ds_bench', model: { layers: [{ units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 1, batchSize: 1 } as never);
  await jobs.transition(job.id, ['queued'], { status: 'running' }, { event: { type: 'status', data: { status: 'running' } } });

  let connected = 0;
  let failed = 0;
  const done: Promise<void>[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c: Client = { got: 0, terminal: false, lastId: 0, outOfOrder: 0 };
    clients.push(c);
    done.push(
      new Promise<void>((resolveDone) => {
        const req = http.get(`${base}/v1/jobs/${job.id}/events`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
          if (res.statusCode !== 200) {
            failed++;
            res.resume();
            return resolveDone();
          }
          connected++;
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.timeOrigin + performance.now();
            buf += chunk;
            let cut: number;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              const id = /^id: (\d+)$/m.exec(block);
              if (!id) continue;
              const n = Number(id[1]);
              if (n <= c.lastId) c.outOfOrder++;
              c.lastId = n;
              if (block.includes('\nevent: progress\n')) {
                const ts = Number(/"ts":([\d.]+)/.exec(block)?.[1]);
                lags.push(now - ts);
                c.got++;
              } else if (/\nevent: (completed|failed|cancelled)\n/.test(block)) c.terminal = true;
            }
          });
          res.on('end', () => resolveDone());
          res.on('error', () => resolveDone());
        });
        req.on('error', () => {
          failed++;
          resolveDone();
        });
      }),
    );
    if (i % 50 === 49) await sleep(5); // do not overflow the accept backlog
  }
  for (let i = 0; i < 600 && connected + failed < CLIENTS; i++) await sleep(50);
  await sleep(500);
  const conns = await sseConnections(redis, api.pid!);
  console.log(`${connected} clients connected (${failed} refused); Redis connections for SSE held by the API: ${conns}`);

  const pad = Array.from({ length: 3 }, (_, i) => 0.01 * i);
  const t0 = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    // Shaped like a core progress event (~300 bytes), plus `ts` for the lag.
    await jobs.appendEvent(job.id, 'progress', { epoch: 1, step: i, loss: 0.5, smoothedLoss: 0.5, valLoss: null, accuracy: 0.8, lr: 0.001, gradNorm: 1.2, layerGradNorms: pad, clippedSteps: 0, clipped: 0, samplesPerSecond: 50000, ts: performance.timeOrigin + performance.now() });
  }
  await jobs.finish(job.id, ['running'], 'completed');
  await Promise.race([Promise.all(done), sleep(30_000)]);

  const sorted = Float64Array.from(lags).sort();
  const complete = clients.filter((c) => c.got === EVENTS && c.terminal).length;
  const disorder = clients.reduce((s, c) => s + c.outOfOrder, 0);
  console.log(
    `SSE fan-out: ${CLIENTS} clients × ${EVENTS} progress events at ${RATE}/s on one job, one API process: ` +
      `lag p50 ${pct(sorted, 50).toFixed(1)} ms, p99 ${pct(sorted, 99).toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms; ` +
      `${lags.length} of ${CLIENTS * EVENTS} deliveries, ${complete} clients got every event and the terminal one, ${disorder} out-of-order ids`,
  );
} finally {
  agent.destroy();
  await stopChild(api);
  await deletePrefix(redis, prefix);
  redis.disconnect();
}
