/**
 * Models and checkpoints in Redis vs in the blob store (docs/storage.md):
 * 1. the inline threshold: time to store N bytes as a Redis string (SET) vs as a blob (local
 *    directory, and S3 on a loopback s3rver), N from 1 KiB to 4 MiB;
 * 2. Redis memory of one 784-256-128-10 job (MEMORY USAGE of each of its keys), written through
 *    the real stores with everything inline (as before blob storage) and with the default
 *    threshold: while running (checkpoint + CHECKPOINTS_KEPT kept + best) and once completed.
 * Usage: npm run bench:artifact-blobs  (needs Redis at REDIS_URL, default 127.0.0.1:6379)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { train } from '../src/core/index.js';
import type { Checkpoint, TrainResult, TrainingSpec } from '../src/core/types.js';
import { createRedis } from '../src/queue/connection.js';
import { DEFAULT_INLINE_MAX_BYTES } from '../src/storage/artifact-blobs.js';
import { LocalBlobStore, S3BlobStore, type BlobStore } from '../src/storage/blobs/index.js';
import { JobStore } from '../src/storage/job-store.js';
import { keysFor, type Keys } from '../src/storage/keys.js';
import { S3rver, S3RVER_CREDENTIALS } from '../test/helpers/s3rver.js';

const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `bench-artblob-${randomBytes(3).toString('hex')}:`;
const dir = await mkdtemp(join(tmpdir(), 'tsnn-bench-artblob-'));
const s3 = await S3rver.start();
const local = new LocalBlobStore(join(dir, 'blobs'));
const s3store = new S3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, client: { credentials: S3RVER_CREDENTIALS } });

async function median(reps: number, f: (i: number) => Promise<unknown>): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f(i);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

try {
  console.log('## 1. Store N bytes: median ms of 15 (Redis SET vs blob put)\n');
  console.log('| bytes | Redis SET | local put | S3 put (s3rver) |\n|---:|---:|---:|---:|');
  for (const n of [1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024]) {
    const b = randomBytes(n);
    const put = (s: BlobStore) => median(15, (i) => s.put(`bench/${n}-${i}.bin`, b));
    const r = await median(15, (i) => redis.set(`${prefix}x:${n}:${i}`, b));
    const l = await put(local);
    const s = await put(s3store);
    console.log(`| ${n} | ${r.toFixed(2)} | ${l.toFixed(2)} | ${s.toFixed(2)} |`);
  }

  console.log('\n## 2. Redis memory of one 784-256-128-10 job (MEMORY USAGE per key, bytes)\n');
  const rows = 512;
  const features = new Float32Array(rows * 784).map(() => Math.random());
  const targets = new Float32Array(rows).map(() => Math.floor(Math.random() * 10));
  const spec: TrainingSpec = {
    model: { layers: [{ units: 256, activation: 'relu' }, { units: 128, activation: 'relu' }, { units: 10, activation: 'softmax' }], init: 'he_normal' },
    loss: 'softmax_cross_entropy',
    optimizer: { type: 'adam', learningRate: 0.001 },
    epochs: 5,
    batchSize: 64,
    seed: 1,
  } as TrainingSpec;
  const cks: Checkpoint[] = [];
  const result: TrainResult = await train(spec, { features, targets, rows, featureCount: 784, targetWidth: 1 }, { onCheckpoint: (c) => void (c.step === 0 && c.epoch > 0 && cks.push(c)) });
  const datasetId = 'ds_bench';
  await redis.hset(`${prefix}ds:{${datasetId}}`, 'tenant', 'default', 'meta', '{}');

  async function jobKeys(keys: Keys, id: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}job:{${id}}*`, 'COUNT', 1000);
      cursor = next;
      for (const k of found) out[k.slice(keys.prefix.length)] = Number(await redis.memory('USAGE', k, 'SAMPLES', 0));
    } while (cursor !== '0');
    return out;
  }
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

  for (const [label, blobs, inlineMaxBytes] of [
    ['before (all in Redis)', undefined, Infinity],
    [`after, local store (threshold ${DEFAULT_INLINE_MAX_BYTES})`, local, DEFAULT_INLINE_MAX_BYTES],
    [`after, S3 store (threshold ${DEFAULT_INLINE_MAX_BYTES})`, s3store, DEFAULT_INLINE_MAX_BYTES],
  ] as const) {
    const keys = keysFor(`${prefix}${label.split(' ')[0]}${blobs?.kind ?? ''}:`);
    await redis.hset(keys.dataset(datasetId), 'tenant', 'default', 'meta', '{}');
    const jobs = new JobStore(redis, keys, { retentionSeconds: 3600, ...(blobs ? { blobs } : {}), inlineMaxBytes });
    const ckpts = jobs.checkpoints();
    const job = await jobs.create('default', { datasetId, ...spec } as never);
    await jobs.transition(job.id, ['queued'], { status: 'running' }, { incrementAttempts: true });
    // As the worker does at every epoch end: the running checkpoint, then kept (CHECKPOINTS_KEPT=3).
    for (const c of cks) {
      await ckpts.write(job.id, 1, { checkpoint: c, event: { type: 'progress', data: { epoch: c.epoch } } });
      await ckpts.keep(job.id, c, 3, 3600);
    }
    const running = await jobKeys(keys, job.id);
    await jobs.finish(job.id, ['running'], 'completed', { artifacts: { model: result.model, history: result.history } }, { attempt: 1 });
    const done = await jobKeys(keys, job.id);
    const model = await jobs.getModel(job.id);
    if (model?.weightsHash !== result.weightsHash) throw new Error('model read back differs');
    console.log(`### ${label}\nrunning: ${total(running)} bytes ${JSON.stringify(running)}\ncompleted: ${total(done)} bytes ${JSON.stringify(done)}\n`);
  }
  console.log(`checkpoint bytes (v8.serialize): ${cks.map((c) => serialize(c).length).join(', ')}`);
  console.log(`model JSON bytes: ${JSON.stringify(result.model).length}`);
} finally {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.unlink(...found);
  } while (cursor !== '0');
  redis.disconnect();
  await s3store.close();
  await s3.close();
  await rm(dir, { recursive: true, force: true });
}

