import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/queue/connection.js';
import { DatasetStore } from '../../src/storage/dataset-store.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { JobStore } from '../../src/storage/job-store.js';
import { DEFAULT_QUEUE_PREFIX, keysFor } from '../../src/storage/keys.js';
import { KEYS_VERSION, LEGACY_QUEUE_PREFIX, migrateLegacyKeys } from '../../src/storage/migrate-keys.js';
import { moonsSpec } from '../helpers/data.js';
import { deletePrefix, redisUrl, testBlobStore, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('migrate');
const keys = keysFor(prefix);
// A queue name of its own: the legacy and new BullMQ prefixes are fixed (`bull`, `{bull}`).
const queueName = `${prefix.replace(/:$/, '')}-training`;
let redis: Redis;

beforeAll(() => {
  redis = createRedis(redisUrl());
});
afterAll(async () => {
  await deletePrefix(prefix);
  await deletePrefix(`${LEGACY_QUEUE_PREFIX}:${queueName}:`);
  await deletePrefix(`${DEFAULT_QUEUE_PREFIX}:${queueName}:`);
  redis.disconnect();
});

/** Rewrites every key of `id` (job or dataset) back to its pre-hash-tag name, as an old version wrote it. */
async function toLegacy(kind: 'job' | 'ds', id: string): Promise<string[]> {
  const tagged = kind === 'job' ? keys.job(id) : keys.dataset(id);
  const found = (await redis.keys(`${tagged.replace(/[{}]/g, '\\$&')}*`)) as string[];
  const legacy: string[] = [];
  for (const k of found) {
    const old = k.replace(`{${id}}`, id);
    await redis.rename(k, old);
    legacy.push(old);
  }
  return legacy;
}

describe('migrateLegacyKeys', () => {
  it('moves jobs, datasets and a BullMQ queue written under the old names to the hash-tagged ones, once', async () => {
    const datasets = new DatasetStore(redis, keys, testBlobStore(prefix));
    const jobs = new JobStore(redis, keys, { retentionSeconds: 3600 });
    const ds = await datasets.create({ tenant: 'a', name: 'd', rows: 2, featureCount: 1, targetWidth: 1, features: Float64Array.of(1, 2), targets: Float64Array.of(0, 1) });
    const done = await jobs.create('a', moonsSpec(ds.id) as never);
    await jobs.appendEvent(done.id, 'progress', { epoch: 1 });
    await jobs.finish(done.id, ['queued'], 'cancelled');
    const queued = await jobs.create('a', moonsSpec(ds.id) as never);
    const legacy = [...(await toLegacy('ds', ds.id)), ...(await toLegacy('job', done.id)), ...(await toLegacy('job', queued.id))];
    expect(legacy).toContain(`${prefix}job:${done.id}:events`);
    expect(legacy).toContain(`${prefix}ds:${ds.id}:jobs`);
    expect(await jobs.get(done.id)).toBeNull();
    // A waiting BullMQ job under the old default prefix.
    const oldQueue = new Queue(queueName, { connection: redis.duplicate(), prefix: LEGACY_QUEUE_PREFIX });
    await oldQueue.add('train', { jobId: queued.id, keyPrefix: prefix }, { jobId: queued.id });
    await oldQueue.close();

    const moved = await migrateLegacyKeys(redis, keys, { prefix: DEFAULT_QUEUE_PREFIX, name: queueName });
    expect(moved.renamed).toBe(legacy.length);
    expect(moved.queueKeys).toBeGreaterThan(0);
    for (const k of legacy) expect(await redis.exists(k)).toBe(0);
    expect(await redis.keys(`${LEGACY_QUEUE_PREFIX}:${queueName}:*`)).toEqual([]);

    expect((await datasets.load(ds.id))?.features).toEqual(Float32Array.of(1, 2));
    expect(await redis.sismember(keys.datasetActiveJobs(ds.id), queued.id)).toBe(1);
    expect(await jobs.get(done.id)).toMatchObject({ status: 'cancelled' });
    expect(await redis.ttl(keys.jobEvents(done.id))).toBeGreaterThan(0); // TTLs survive the rename
    expect((await readJobEventsAfter(redis, keys.jobEvents(done.id), 0)).map((e) => e.type)).toEqual(['status', 'progress', 'cancelled']);
    expect(await jobs.get(queued.id)).toMatchObject({ status: 'queued' });
    const newQueue = new Queue(queueName, { connection: redis.duplicate(), prefix: DEFAULT_QUEUE_PREFIX });
    expect((await newQueue.getWaiting()).map((j) => j.id)).toEqual([queued.id]);
    await newQueue.close();

    // Marked: the next start skips the scan; an old key written after that stays where it is.
    expect(await redis.get(`${prefix}keys-version`)).toBe(KEYS_VERSION);
    await redis.set(`${prefix}job:job_late`, 'x');
    expect(await migrateLegacyKeys(redis, keys, { prefix: DEFAULT_QUEUE_PREFIX, name: queueName })).toEqual({ renamed: 0, queueKeys: 0, skipped: 0 });
    expect(await redis.exists(`${prefix}job:job_late`)).toBe(1);
  });
});
