/**
 * `npm run bench:worker-memory`: peak RSS of a worker training a Fashion-MNIST-shaped dataset
 * (60,000 rows × 784 pixel columns 0–255 + a label, 10 classes) on a 784-256-128-10 net, against
 * the bound: peak ≤ 2.5 × the dataset's binary size + 200 MB.
 *
 * Stores the dataset through the DatasetStore (blob store in a temp dir, or an s3rver with
 * BLOB=s3), starts a real worker process (`workers/main.ts`, WORKER_CONCURRENCY=1), queues one job
 * and samples the peak RSS (VmHWM) of the trainer child process that loads the blob and trains,
 * and of the worker process itself. Options (env): ROWS (default 60000), EPOCHS (default 1),
 * BLOB (`local` or `s3`, default local), REDIS_URL. Keys and files are removed afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { TrainingQueue } from '../src/queue/training-queue.js';
import { createBlobStore } from '../src/storage/blobs/index.js';
import { DatasetStore } from '../src/storage/dataset-store.js';
import { JobStore } from '../src/storage/job-store.js';
import { keysFor } from '../src/storage/keys.js';
import { deletePrefix, sleep } from './api-child.js';

const root = resolve(import.meta.dirname, '..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROWS = Number(process.env.ROWS ?? 60_000);
const EPOCHS = Number(process.env.EPOCHS ?? 1);
const BLOB = process.env.BLOB === 's3' ? 's3' : 'local';
const F = 784;
const MB = 1e6;

/** Fashion-MNIST-like pixels: a per-class template plus noise, integers 0–255 (exact in float32). */
function fashionLike(rows: number): { features: Float32Array; targets: Float32Array } {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const templates = Array.from({ length: 10 }, () => Float32Array.from({ length: F }, () => Math.floor(rand() * 200)));
  const features = new Float32Array(rows * F);
  const targets = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = r % 10;
    targets[r] = c;
    const t = templates[c];
    for (let j = 0; j < F; j++) features[r * F + j] = Math.min(255, Math.max(0, Math.round(t[j] + (rand() - 0.5) * 160)));
  }
  return { features, targets };
}

/** VmHWM (peak RSS) and VmRSS of `pid` in bytes, or null when it is gone. */
function memOf(pid: number): { hwm: number; rss: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {}
  }
  return out;
}

const id = randomBytes(4).toString('hex');
const prefix = `bench-wmem-${id}:`;
const dir = mkdtempSync(join(tmpdir(), 'tsnn-bench-wmem-'));
let s3: ChildProcess | undefined;
const env: Record<string, string> = {
  REDIS_URL,
  KEY_PREFIX: prefix,
  QUEUE_PREFIX: `{bench-wmem-${id}}`,
  WORKER_CONCURRENCY: '1',
  LOG_LEVEL: 'warn',
  DATA_DIR: join(dir, 'blobs'),
  BLOB_CACHE_DIR: join(dir, 'cache'),
  BLOB_STORE: BLOB,
};
if (BLOB === 's3') {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  s3 = spawn(process.execPath, [resolve(root, 'node_modules/s3rver/bin/s3rver.js'), '-d', join(dir, 's3'), '-a', '127.0.0.1', '-p', String(port), '--configure-bucket', 'bench', '--silent'], { stdio: 'ignore' });
  await sleep(1500);
  Object.assign(env, { S3_BUCKET: 'bench', S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
}
const config = loadConfig(env);
const redis = new Redis(REDIS_URL);
const keys = keysFor(prefix);
const blobs = createBlobStore(config);
let worker: ChildProcess | undefined;
try {
  const data = fashionLike(ROWS);
  const ds = await new DatasetStore(redis, keys, blobs).create({ tenant: 'default', name: 'fashion-like', rows: ROWS, featureCount: F, targetWidth: 1, ...data });
  const binary = ds.bytes;
  const jobs = new JobStore(redis, keys);
  const queueRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new TrainingQueue(queueRedis, { prefix: config.QUEUE_PREFIX, name: config.QUEUE_NAME, keyPrefix: prefix, attempts: 1 });
  const job = await jobs.create('default', {
    datasetId: ds.id,
    model: { layers: [{ units: 256, activation: 'relu' }, { units: 128, activation: 'relu' }, { units: 10, activation: 'softmax' }], init: 'he_normal' },
    loss: 'softmax_cross_entropy',
    optimizer: { type: 'adam', learningRate: 0.001 },
    epochs: EPOCHS,
    batchSize: 128,
    normalize: true,
    seed: 1,
  } as never);

  worker = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'workers/main.ts')], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  await sleep(3000);
  const idle = memOf(worker.pid!);
  const t0 = performance.now();
  await queue.enqueue(job.id);
  const peak = new Map<number, number>();
  let status = 'queued';
  while (!['completed', 'failed', 'cancelled'].includes(status)) {
    for (const pid of [worker.pid!, ...childrenOf(worker.pid!)]) {
      const m = memOf(pid);
      if (m) peak.set(pid, Math.max(peak.get(pid) ?? 0, m.hwm));
    }
    status = (await jobs.get(job.id))?.status ?? 'gone';
    await sleep(100);
  }
  const seconds = (performance.now() - t0) / 1000;
  const final = (await jobs.get(job.id))!;
  const trainerPeak = Math.max(0, ...[...peak].filter(([p]) => p !== worker!.pid).map(([, v]) => v));
  const workerPeak = peak.get(worker.pid!) ?? 0;
  const bound = 2.5 * binary + 200 * MB;
  console.log(
    JSON.stringify(
      {
        blobStore: BLOB,
        rows: ROWS,
        datasetBinaryMB: +(binary / MB).toFixed(1),
        status: final.status,
        ...(final.error ? { error: final.error } : {}),
        epochs: EPOCHS,
        seconds: +seconds.toFixed(1),
        accuracy: final.result?.accuracy,
        trainerPeakRssMB: +(trainerPeak / MB).toFixed(0),
        workerPeakRssMB: +(workerPeak / MB).toFixed(0),
        workerIdleRssMB: idle ? +(idle.rss / MB).toFixed(0) : null,
        boundMB: +(bound / MB).toFixed(0),
        trainerPeakOverBinary: +(trainerPeak / binary).toFixed(2),
        withinBound: trainerPeak <= bound,
      },
      null,
      2,
    ),
  );
  await queue.close();
  queueRedis.disconnect();
} finally {
  if (worker && worker.exitCode === null) {
    const gone = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    await gone;
  }
  await blobs.close();
  await deletePrefix(redis, prefix);
  await deletePrefix(redis, `{bench-wmem-${id}}`);
  redis.disconnect();
  if (s3 && s3.exitCode === null) s3.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
