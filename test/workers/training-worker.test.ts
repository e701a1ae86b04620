import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createRedis } from '../../src/queue/connection.js';
import { TrainingQueue } from '../../src/queue/training-queue.js';
import type { Job } from '../../src/schemas/job.js';
import type { JobSubmission } from '../../src/schemas/training-spec.js';
import { DatasetStore } from '../../src/storage/dataset-store.js';
import { readEventsAfter } from '../../src/storage/event-stream.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor, type Keys } from '../../src/storage/keys.js';
import { TrainingWorker } from '../../workers/training-worker.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { deletePrefix, testConfig, uniquePrefix, testBlobStore } from '../helpers/redis.js';

let config: Config;
let redis: Redis;
let keys: Keys;
let jobs: JobStore;
let datasets: DatasetStore;
let queue: TrainingQueue;
let worker: TrainingWorker;
let dsId: string;

beforeAll(async () => {
  const prefix = uniquePrefix('wrk');
  config = testConfig(prefix, { WORKER_CONCURRENCY: '2' });
  redis = createRedis(config.REDIS_URL);
  keys = keysFor(prefix);
  jobs = new JobStore(redis, keys);
  datasets = new DatasetStore(redis, keys, testBlobStore(prefix));
  queue = new TrainingQueue(redis, { prefix: config.QUEUE_PREFIX, keyPrefix: prefix, attempts: 3 });
  worker = new TrainingWorker(config);
  const rows = moons(80);
  dsId = (
    await datasets.create({
      tenant: 'default',
      name: 'm',
      rows: 80,
      featureCount: 2,
      targetWidth: 1,
      features: Float64Array.from(rows.flatMap((r) => r.slice(0, 2))),
      targets: Float64Array.from(rows.map((r) => r[2])),
    })
  ).id;
});

afterAll(async () => {
  await worker.close(1000);
  await queue.close();
  await deletePrefix(keys.prefix);
  redis.disconnect();
});

async function submit(spec: JobSubmission): Promise<string> {
  const job = await jobs.create('default', spec);
  await queue.enqueue(job.id);
  return job.id;
}

async function waitFor(id: string, pred: (j: Job) => boolean, timeoutMs = 45_000): Promise<Job> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = (await jobs.get(id))!;
    if (pred(j)) return j;
    if (Date.now() > end) throw new Error(`job ${id} stuck: ${JSON.stringify(j).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const finished = (j: Job) => ['completed', 'failed', 'cancelled'].includes(j.status);

describe('TrainingWorker (BullMQ, sandboxed child processes, real Redis)', () => {
  it('trains a job to completion and stores model and metrics', async () => {
    const id = await submit(moonsSpec(dsId, 20));
    const job = await waitFor(id, finished);
    expect(job).toMatchObject({ status: 'completed', attempts: 1, result: { epochsRun: 20 } });
    expect((await jobs.getMetrics(id))!.length).toBe(20);
    expect((await jobs.getModel(id))!.weightsHash).toBe(job.result!.weightsHash);
    const events = await readEventsAfter(redis, keys.jobEvents(id), 0);
    expect(events.at(-1)!.type).toBe('completed');
  });

  it('a spec the core rejects fails once with invalid_spec and the field path, never retried', async () => {
    const spec = { ...moonsSpec(dsId, 5), model: { layers: [{ units: 3, activation: 'softmax' as const }] } };
    const id = await submit(spec);
    const job = await waitFor(id, finished);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('invalid_spec');
    expect(job.error?.path).toMatch(/units|layers|classes|targets/);
    expect(job.attempts).toBe(1);
    // The record ends before the child returns to BullMQ: wait for BullMQ to file the attempt.
    const end = Date.now() + 5000;
    while ((await queue.queue.getJob(id).then((b) => b?.getState())) !== 'failed' && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const bull = await queue.queue.getJob(id);
    expect(bull?.attemptsMade).toBe(1);
    expect(await bull?.getState()).toBe('failed');
  });

  it('a divergent run fails with diverged, not retried', async () => {
    const spec: JobSubmission = { datasetId: dsId, model: { layers: [{ units: 1, activation: 'linear' }] }, loss: 'mse', optimizer: { type: 'sgd', learningRate: 1e30 }, epochs: 50, batchSize: 8, normalize: false };
    const id = await submit(spec);
    const job = await waitFor(id, finished);
    expect(job.error?.code).toBe('diverged');
    // Where and what, as fields (not only in the message): non-finite within the first epochs.
    const { epoch, step, what } = job.error!;
    expect(job.error!.message).toContain(`training diverged at epoch ${epoch}, step ${step}: the ${what === 'gradient' ? 'gradient norm is' : what === 'weights' ? 'weights are' : 'loss is'} not finite`);
    expect(step).toBeGreaterThanOrEqual(1);
    expect(step).toBeLessThanOrEqual(10); // 80 rows in batches of 8
    expect(job.attempts).toBe(1);
  });

  it('runs two jobs at once with concurrency 2, and cancels running jobs within a batch', async () => {
    const long = { ...moonsSpec(dsId, 100_000), batchSize: 1 };
    const a = await submit(long);
    const b = await submit(long);
    // Both running at the same time: two child processes.
    const end = Date.now() + 45_000;
    for (;;) {
      const [ja, jb] = await Promise.all([jobs.get(a), jobs.get(b)]);
      if (ja!.status === 'running' && jb!.status === 'running' && ja!.progress && jb!.progress) break;
      if (Date.now() > end) throw new Error('the two jobs never ran together');
      await new Promise((r) => setTimeout(r, 50));
    }
    await jobs.requestCancel(a);
    await jobs.requestCancel(b);
    const [ca, cb] = await Promise.all([waitFor(a, finished, 20_000), waitFor(b, finished, 20_000)]);
    expect([ca.status, cb.status]).toEqual(['cancelled', 'cancelled']);
    expect(ca.error?.message).toMatch(/cancelled by request at epoch \d+, step \d+/);
    const events = await readEventsAfter(redis, keys.jobEvents(a), 0);
    expect(events.at(-1)!.type).toBe('cancelled');
    expect(events.filter((e) => e.type === 'progress').length).toBeGreaterThan(0);
  });

  it('a job whose dataset is gone fails with dataset_missing', async () => {
    const other = await datasets.create({ tenant: 'default', name: 'x', rows: 2, featureCount: 1, targetWidth: 1, features: Float64Array.of(0, 1), targets: Float64Array.of(0, 1) });
    const job = await jobs.create('default', { ...moonsSpec(other.id, 3), model: { layers: [{ units: 2, activation: 'softmax' }] } });
    // Vanished underneath (DatasetStore.delete refuses while a job uses it): remove its keys directly.
    await redis.del(keys.dataset(other.id), keys.datasetFeatures(other.id), keys.datasetTargets(other.id));
    await queue.enqueue(job.id);
    const done = await waitFor(job.id, finished);
    expect(done.error?.code).toBe('dataset_missing');
  });

  it('skips a job cancelled before a worker took it', async () => {
    const job = await jobs.create('default', moonsSpec(dsId, 3));
    await jobs.finish(job.id, ['queued'], 'cancelled');
    await queue.enqueue(job.id);
    for (let i = 0; i < 100 && (await queue.queue.getJob(job.id)); i++) await new Promise((r) => setTimeout(r, 50));
    const after = (await jobs.get(job.id))!;
    expect(after.status).toBe('cancelled');
    expect(after.attempts).toBe(0);
  });
});
