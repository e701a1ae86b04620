import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { blobConfigEnv } from '../../src/config.js';
import { train } from '../../src/core/index.js';
import { kernelOptions } from '../../src/native-kernels/index.js';
import type { DataSet, TrainingSpec } from '../../src/core/types.js';
import type { Job } from '../../src/schemas/job.js';
import type { Keys } from '../../src/storage/keys.js';
import { moons } from '../helpers/data.js';
import { testConfig } from '../helpers/redis.js';
import { sleep, waitFor, waitForState } from '../helpers/wait.js';

export { sleep };

const root = resolve(import.meta.dirname, '..', '..');

/** Worker settings that recover a killed worker's job within a few seconds. */
export const fastRecovery = {
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '500',
  CHECKPOINT_INTERVAL_MS: '100',
  PROGRESS_INTERVAL_MS: '50',
  JOB_BACKOFF_MS: '200',
};

/** A worker process (`workers/main.ts`) in its own process group, so SIGKILL can take its trainer children too. */
export interface WorkerProc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a worker process (inside network namespace `netns`, if given) and resolves once it logged 'worker ready'. */
export async function startWorker(env: Record<string, string>, opts: { netns?: string } = {}): Promise<WorkerProc> {
  // The same blob store as an API of testConfig(KEY_PREFIX) (its temp DATA_DIR), unless the test says otherwise.
  const blobs = env.KEY_PREFIX ? blobConfigEnv(testConfig(env.KEY_PREFIX)) : {};
  const node = [process.execPath, '--import', 'tsx', resolve(root, 'workers/main.ts')];
  // `ip netns exec` execs node in place, so the pid (and process group) is the worker's own.
  const [cmd, ...args] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...node] : node;
  const child = spawn(cmd!, args, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '1', ...fastRecovery, ...blobs, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await waitFor('the worker to log "worker ready"', () => {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode} before it was ready: ${out.slice(-2000)}`);
    return out.includes('worker ready');
  }, { timeoutMs: 30_000, context: () => `worker output: ${out.slice(-2000)}` });
  return { child, output: () => out, exited };
}

/** SIGKILL to the worker's whole process group (worker and trainer children: the machine is gone). */
export async function killWorker(w: WorkerProc): Promise<void> {
  try {
    process.kill(-w.child.pid!, 'SIGKILL');
  } catch {}
  await w.exited;
}

/** Stops a worker however it is: SIGTERM, then SIGKILL of the group after `graceMs`. */
export async function stopWorker(w: WorkerProc, graceMs = 15_000): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  const t = setTimeout(() => killWorker(w), graceMs);
  await w.exited;
  clearTimeout(t);
  try {
    process.kill(-w.child.pid!, 'SIGKILL'); // leftovers of the group, if any
  } catch {}
}

/** An API listening on a free port, in this process, on `prefix`. */
export async function startApi(prefix: string, env: Record<string, string> = {}): Promise<{ app: FastifyInstance; base: string }> {
  const app = await buildApp(testConfig(prefix, env), false);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, base: `http://127.0.0.1:${port}` };
}

/** Moons rows as the core's DataSet (and for DatasetStore.create). */
export function moonsData(n: number): DataSet {
  const rows = moons(n);
  return { features: Float64Array.from(rows.flatMap((r) => r.slice(0, 2))), targets: Float64Array.from(rows.map((r) => r[2])), rows: n, featureCount: 2, targetWidth: 1 };
}

/**
 * Stores `n` moons rows through the API's DatasetStore. Returns the dataset id and the values as
 * stored (the reference run must train on exactly what the worker loads) as the core's DataSet.
 */
export async function storeMoons(app: FastifyInstance, n: number): Promise<{ datasetId: string; data: DataSet }> {
  const d = moonsData(n);
  const { id } = await app.svc.datasets.create({ tenant: 'default', name: 'moons', rows: d.rows!, featureCount: 2, targetWidth: 1, features: d.features as Float64Array, targets: d.targets as Float64Array });
  const loaded = (await app.svc.datasets.load(id))!;
  return { datasetId: id, data: { features: loaded.features, targets: loaded.targets, rows: d.rows, featureCount: 2, targetWidth: 1 } };
}

/** A spec whose epochs last long enough (tens of ms) to be killed in the middle of one. */
export const longSpec = (epochs: number): TrainingSpec => ({
  model: { layers: [{ units: 64, activation: 'tanh' }, { units: 64, activation: 'tanh' }, { units: 2, activation: 'softmax' }], init: 'xavier_normal' },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 0.005 },
  epochs,
  batchSize: 8,
  normalize: true,
  validationSplit: 0.1,
  seed: 11,
});

/** weightsHash of an uninterrupted run of `spec` on `data`, by the core in this process on the trainer's default kernels. */
export async function referenceHash(spec: TrainingSpec, data: DataSet): Promise<string> {
  return (await train(spec, data, kernelOptions())).weightsHash;
}

/** Polls `GET /v1/jobs/{id}` until `pred` holds; on timeout the error shows the last answer (`what` names the state awaited). */
export async function waitJob(base: string, id: string, pred: (j: Job) => boolean, timeoutMs = 90_000, what = pred.toString()): Promise<Job> {
  const read = async () => {
    const res = await fetch(`${base}/v1/jobs/${id}`);
    if (!res.ok) throw new Error(`GET /v1/jobs/${id}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Job;
  };
  return waitForState(`job ${id}: ${what}`, read, pred, { timeoutMs, intervalMs: 25, retryErrors: true });
}

/** Waits until every job of `ids` has a checkpoint (`keys.jobCheckpoint`): a job killed after that resumes instead of starting over. */
export async function waitCheckpoint(redis: { exists(...keys: string[]): Promise<number> }, keys: Keys, ids: string | string[], timeoutMs = 30_000): Promise<void> {
  const list = typeof ids === 'string' ? [ids] : ids;
  const missing = async () => {
    const has = await Promise.all(list.map((id) => redis.exists(keys.jobCheckpoint(id))));
    return list.filter((_, i) => !has[i]);
  };
  await waitForState(`a checkpoint of ${list.join(', ')}`, missing, (m) => m.length === 0, { timeoutMs, intervalMs: 20 });
}

export const isFinished = (j: Job) => ['completed', 'failed', 'cancelled'].includes(j.status);

/** A plain Redis client for assertions. */
export const redisClient = (url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') => new Redis(url, { maxRetriesPerRequest: null });

/** A redis-server of the test's own (port, temp dir, AOF fsync always), which the test may stop and start again. */
export async function privateRedis(port: number, dir: string, extra: string[] = []) {
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction', ...extra], { stdio: 'ignore' });
    const { redisAnswers } = await import('../../src/queue/connection.js');
    await waitFor(`redis-server on port ${port} to answer PING`, () => redisAnswers(url, 200), { timeoutMs: 30_000, intervalMs: 25 });
  };
  /** SHUTDOWN (the AOF is already on disk with fsync always), and wait for the process to end. */
  const stop = async () => {
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM'); // redis-server handles SIGTERM as SHUTDOWN
    await gone;
  };
  await start();
  return { url, start, stop };
}
