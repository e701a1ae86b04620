import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSubmission } from '../../src/schemas/training-spec.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { waitFor, waitForState } from '../helpers/wait.js';
import { isFinished as finished, workerStack } from '../helpers/worker-stack.js';

const stack = workerStack('wrk', { WORKER_CONCURRENCY: '2' }, { attempts: 3 });
const { redis, keys, jobs, datasets, queue } = stack;
let dsId: string;

beforeAll(async () => {
  dsId = await stack.storeRows(moons(80));
});

afterAll(() => stack.close());

const { submit, waitJob } = stack;

describe('TrainingWorker (BullMQ, sandboxed child processes, real Redis)', () => {
  it('trains a job to completion and stores model and metrics', async () => {
    const id = await submit(moonsSpec(dsId, 20));
    const job = await waitJob(id, finished);
    expect(job).toMatchObject({ status: 'completed', attempts: 1, result: { epochsRun: 20 } });
    expect((await jobs.getMetrics(id))!.length).toBe(20);
    expect((await jobs.getModel(id))!.weightsHash).toBe(job.result!.weightsHash);
    const events = await readJobEventsAfter(redis, keys.jobEvents(id), 0);
    expect(events.at(-1)!.type).toBe('completed');
  });

  it('a spec the core rejects fails once with invalid_spec and the field path, never retried', async () => {
    const spec = { ...moonsSpec(dsId, 5), model: { layers: [{ units: 3, activation: 'softmax' as const }] } };
    const id = await submit(spec);
    const job = await waitJob(id, finished);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('invalid_spec');
    expect(job.error?.path).toMatch(/units|layers|classes|targets/);
    expect(job.attempts).toBe(1);
    // The record ends before the child returns to BullMQ: wait for BullMQ to file the attempt.
    await waitForState(`BullMQ to file job ${id} as failed`, async () => (await queue.queue.getJob(id))?.getState(), (state) => state === 'failed', { timeoutMs: 5000, intervalMs: 20 });
    const bull = await queue.queue.getJob(id);
    expect(bull?.attemptsMade).toBe(1);
    expect(await bull?.getState()).toBe('failed');
  });

  it('a divergent run fails with diverged, not retried', async () => {
    const spec: JobSubmission = { datasetId: dsId, model: { layers: [{ units: 1, activation: 'linear' }] }, loss: 'mse', optimizer: { type: 'sgd', learningRate: 1e30 }, epochs: 50, batchSize: 8, normalize: false };
    const id = await submit(spec);
    const job = await waitJob(id, finished);
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
    await waitForState(
      'the two jobs running together, both with progress',
      () => Promise.all([jobs.get(a), jobs.get(b)]),
      (both) => both.every((j) => j!.status === 'running' && j!.progress),
      { timeoutMs: 45_000 },
    );
    await jobs.requestCancel(a);
    await jobs.requestCancel(b);
    const [ca, cb] = await Promise.all([waitJob(a, finished, 20_000), waitJob(b, finished, 20_000)]);
    expect([ca.status, cb.status]).toEqual(['cancelled', 'cancelled']);
    expect(ca.error?.message).toMatch(/cancelled by request at epoch \d+, step \d+/);
    const events = await readJobEventsAfter(redis, keys.jobEvents(a), 0);
    expect(events.at(-1)!.type).toBe('cancelled');
    expect(events.filter((e) => e.type === 'progress').length).toBeGreaterThan(0);
  });

  it('a job whose dataset is gone fails with dataset_missing', async () => {
    const other = await datasets.create({ tenant: 'default', name: 'x', rows: 2, featureCount: 1, targetWidth: 1, features: Float64Array.of(0, 1), targets: Float64Array.of(0, 1) });
    const job = await jobs.create('default', { ...moonsSpec(other.id, 3), model: { layers: [{ units: 2, activation: 'softmax' }] } });
    // Vanished underneath (DatasetStore.delete refuses while a job uses it): remove its keys directly.
    await redis.del(keys.dataset(other.id), keys.datasetFeatures(other.id), keys.datasetTargets(other.id));
    await queue.enqueue(job.id);
    const done = await waitJob(job.id, finished);
    expect(done.error?.code).toBe('dataset_missing');
  });

  it('skips a job cancelled before a worker took it', async () => {
    const job = await jobs.create('default', moonsSpec(dsId, 3));
    await jobs.finish(job.id, ['queued'], 'cancelled');
    await queue.enqueue(job.id);
    await waitFor(`the worker to drop the BullMQ job of cancelled ${job.id}`, async () => !(await queue.queue.getJob(job.id)), { timeoutMs: 5000 });
    const after = (await jobs.get(job.id))!;
    expect(after.status).toBe('cancelled');
    expect(after.attempts).toBe(0);
  });
});
