import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/core/index.js';
import type { Checkpoint } from '../../src/core/types.js';
import { createRedis } from '../../src/queue/connection.js';
import { CheckpointStore, JobFencedError } from '../../src/storage/checkpoint-store.js';
import { DatasetInUseError, DatasetStore } from '../../src/storage/dataset-store.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor, type Keys } from '../../src/storage/keys.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { deletePrefix, uniquePrefix, testBlobStore } from '../helpers/redis.js';

let redis: Redis;
let keys: Keys;
let jobs: JobStore;
let checkpoints: CheckpointStore;
let datasets: DatasetStore;
let dsId: string;
let ck: Checkpoint;

beforeAll(async () => {
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  keys = keysFor(uniquePrefix('ck'));
  jobs = new JobStore(redis, keys, { retentionSeconds: 100 });
  checkpoints = new CheckpointStore(redis, keys);
  datasets = new DatasetStore(redis, keys, testBlobStore(keys.prefix));
  const rows = moons(40);
  const features = Float64Array.from(rows.flatMap((r) => r.slice(0, 2)));
  const targets = Float64Array.from(rows.map((r) => r[2]));
  dsId = (await datasets.create({ tenant: 'default', name: 'm', rows: 40, featureCount: 2, targetWidth: 1, features, targets })).id;
  const { datasetId: _, ...spec } = moonsSpec(dsId, 2);
  await train(spec, { features, targets, rows: 40, featureCount: 2, targetWidth: 1 }, { onCheckpoint: (c) => void (ck ??= c) });
});

afterAll(async () => {
  await deletePrefix(keys.prefix);
  redis.disconnect();
});

describe('CheckpointStore and fenced job writes', () => {
  it('stores a checkpoint with its event atomically, loads it back intact, and refuses writes of a stale attempt', async () => {
    const job = await jobs.create('default', moonsSpec(dsId, 2));
    expect(await redis.smembers(keys.datasetActiveJobs(dsId))).toEqual([job.id]);
    await expect(datasets.delete(dsId, 'default')).rejects.toBeInstanceOf(DatasetInUseError);
    await jobs.transition(job.id, ['queued'], { status: 'running' }, { incrementAttempts: true }); // attempt 1
    const seq = await checkpoints.write(job.id, 1, { checkpoint: ck, event: { type: 'progress', data: { epoch: 0 } }, progress: '{"epoch":0}' });
    expect(seq).toBe(2); // 1 = queued status
    const back = (await checkpoints.load(job.id))!;
    expect(back).toMatchObject({ epoch: ck.epoch, step: ck.step, attempt: 1, eventSeq: 2 });
    expect(back.checkpoint.history).toEqual(ck.history);
    expect((back.checkpoint.state as { weights: Float32Array[] }).weights).toEqual((ck.state as { weights: Float32Array[] }).weights);
    // Another worker takes over (attempt 2): attempt 1 can write nothing any more.
    await jobs.transition(job.id, ['running'], { status: 'running' }, { incrementAttempts: true });
    await expect(checkpoints.write(job.id, 1, { event: { type: 'progress', data: {} } })).rejects.toBeInstanceOf(JobFencedError);
    expect((await jobs.finish(job.id, ['running'], 'completed', {}, { attempt: 1 })).previous).toBe('fenced');
    expect((await jobs.get(job.id))!.status).toBe('running');
    // Attempt 2 finishes: checkpoint gone, TTL on every key, the dataset is free again.
    expect(await jobs.saveArtifacts(job.id, { weightsHash: 'stale' } as never, [], { attempt: 1 })).toBe(false);
    expect(await redis.exists(keys.jobModel(job.id))).toBe(0);
    expect(await jobs.saveArtifacts(job.id, { weightsHash: 'x' } as never, [], { attempt: 2 })).toBe(true);
    expect((await jobs.finish(job.id, ['running'], 'completed', {}, { attempt: 2 })).applied).toBe(true);
    expect(await redis.exists(keys.jobCheckpoint(job.id))).toBe(0);
    for (const k of [keys.job(job.id), keys.jobEvents(job.id), keys.jobModel(job.id), keys.jobMetrics(job.id)]) {
      const ttl = await redis.ttl(k);
      expect(ttl).toBeGreaterThan(90);
      expect(ttl).toBeLessThanOrEqual(100);
    }
    const events = await readJobEventsAfter(redis, keys.jobEvents(job.id), 0);
    expect(events.map((e) => e.type)).toEqual(['status', 'progress', 'completed']);
    expect(await redis.exists(keys.datasetActiveJobs(dsId))).toBe(0);
    expect(await datasets.delete(dsId, 'default')).toBe(true);
  });

  it('history so far: [] before any checkpoint, then each checkpoint\'s finished epochs (once each, across a resume), then the stored metrics', async () => {
    const rows = moons(40);
    const data = { features: Float64Array.from(rows.flatMap((r) => r.slice(0, 2))), targets: Float64Array.from(rows.map((r) => r[2])), rows: 40, featureCount: 2, targetWidth: 1 };
    const { datasetId: _, ...spec } = moonsSpec(dsId, 3);
    const ends: Checkpoint[] = [];
    const full = await train(spec, data, { onCheckpoint: (c) => void ends.push(c) });
    expect(ends.map((c) => [c.epoch, c.step])).toEqual([[1, 0], [2, 0], [3, 0]]);
    const job = await jobs.create('default', moonsSpec(dsId, 3));
    expect(await jobs.getHistorySoFar(job.id)).toEqual([]);
    await jobs.transition(job.id, ['queued'], { status: 'running' }, { incrementAttempts: true });
    await checkpoints.write(job.id, 1, { checkpoint: ends[0] });
    expect((await jobs.getHistorySoFar(job.id)).map((m) => m.epoch)).toEqual([0]);
    // Attempt 2 resumes from that checkpoint and writes the next ones: no epoch twice, none missing.
    await jobs.transition(job.id, ['running'], { status: 'running' }, { incrementAttempts: true });
    await checkpoints.write(job.id, 2, { checkpoint: ends[1] });
    expect(await jobs.getHistorySoFar(job.id)).toEqual(full.history.slice(0, 2));
    await checkpoints.write(job.id, 2, { checkpoint: ends[2] });
    expect(await jobs.saveArtifacts(job.id, full.model, full.history, { attempt: 2 })).toBe(true);
    expect((await jobs.finish(job.id, ['running'], 'cancelled', {}, { attempt: 2 })).applied).toBe(true);
    expect(await redis.exists(keys.jobCheckpoint(job.id))).toBe(0);
    expect(await jobs.getHistorySoFar(job.id)).toEqual(full.history);
    for (const k of [keys.jobModel(job.id), keys.jobMetrics(job.id)]) expect(await redis.ttl(k)).toBeGreaterThan(90);
  });

  it('drops an unreadable checkpoint instead of failing the job', async () => {
    await redis.hset(keys.jobCheckpoint('job_x'), 'data', Buffer.from('not v8'));
    expect(await checkpoints.load('job_x')).toBeNull();
    expect(await redis.exists(keys.jobCheckpoint('job_x'))).toBe(0);
  });
});
