import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobOutcomeTail } from '../../src/ops/job-outcomes.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor } from '../../src/storage/keys.js';
import type { JobSubmission } from '../../src/schemas/training-spec.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const prefix = uniquePrefix('outcomes');
const keys = keysFor(prefix);
let redis: Redis;
let jobs: JobStore;

const submission = {
  datasetId: 'ds_x',
  model: { layers: [{ units: 2, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'sgd', learningRate: 0.1 },
  epochs: 2,
  batchSize: 4,
} as unknown as JobSubmission;

beforeAll(() => {
  redis = new Redis(redisUrl());
  jobs = new JobStore(redis, keys);
});

afterAll(async () => {
  redis.disconnect();
  await deletePrefix(prefix);
});

describe('JobOutcomeTail on the stream of finished jobs', () => {
  it('reports each applied finish once, with the history and throughput of a completed job; submits and refused finishes add nothing', async () => {
    const seen: { outcome: string; epochs: number | null; sps?: number }[] = [];
    const tail = new JobOutcomeTail({
      stream: keys.jobOutcomes(),
      redis,
      jobs,
      pollMs: 20,
      onFinished: (outcome, history, sps) => seen.push({ outcome, epochs: history ? history.length : null, ...(sps !== undefined ? { sps } : {}) }),
    });
    try {
      await tail.ready();
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => jobs.create('t1', submission)));
      // Creating jobs writes nothing the tail reads.
      expect(await redis.xlen(keys.jobOutcomes())).toBe(0);

      const history = [1, 2].map((epoch) => ({ epoch, loss: 0.5, durationMs: 10 * epoch }));
      const model = { layers: [], normalization: null } as never;
      expect((await jobs.finish(a.id, ['queued'], 'completed', { result: { samplesPerSecond: 1234 } as never, artifacts: { model, history: history as never } })).applied).toBe(true);
      expect((await jobs.finish(b.id, ['queued'], 'failed', { error: { code: 'x', message: 'boom' } })).applied).toBe(true);
      expect((await jobs.finish(c.id, ['queued'], 'cancelled')).applied).toBe(true);
      // Not applied (already terminal): no second entry.
      expect((await jobs.finish(b.id, ['queued'], 'cancelled')).applied).toBe(false);
      expect(await redis.xlen(keys.jobOutcomes())).toBe(3);

      await waitFor('three outcomes', () => seen.length === 3);
      // (A completed job is reported once its records are read, so possibly after the others.)
      expect(seen.sort((x, y) => x.outcome.localeCompare(y.outcome))).toEqual([
        { outcome: 'cancelled', epochs: null },
        { outcome: 'completed', epochs: 2, sps: 1234 },
        { outcome: 'failed', epochs: null },
      ]);
    } finally {
      await tail.close();
    }
  });

  it('starts at the end of the stream: outcomes from before the process started are not counted again', async () => {
    const old = await jobs.create('t1', submission);
    await jobs.finish(old.id, ['queued'], 'failed', { error: { code: 'x', message: 'old' } });
    const seen: string[] = [];
    const tail = new JobOutcomeTail({ stream: keys.jobOutcomes(), redis, jobs, pollMs: 20, onFinished: (o) => seen.push(o) });
    try {
      await tail.ready();
      const fresh = await jobs.create('t1', submission);
      await jobs.finish(fresh.id, ['queued'], 'cancelled');
      await waitFor('the new outcome', () => seen.length === 1);
      expect(seen).toEqual(['cancelled']);
    } finally {
      await tail.close();
    }
  });
});
