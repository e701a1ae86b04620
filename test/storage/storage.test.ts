import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/queue/connection.js';
import { BlobIntegrityError } from '../../src/storage/blobs/blob-store.js';
import { DatasetStore } from '../../src/storage/dataset-store.js';
import { readJobEventsAfter, waitEventsAfter } from '../../src/storage/event-stream.js';
import { bodyHash, canonicalJson, claimIdempotencyKey } from '../../src/storage/idempotency.js';
import { ID_PATTERN, newId } from '../../src/storage/ids.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor } from '../../src/storage/keys.js';
import { moonsSpec } from '../helpers/data.js';
import { deletePrefix, redisUrl, uniquePrefix, testBlobStore } from '../helpers/redis.js';
import { sleep } from '../helpers/wait.js';

const prefix = uniquePrefix('store');
const keys = keysFor(prefix);
let redis: Redis;
let jobs: JobStore;
let datasets: DatasetStore;
beforeAll(() => {
  redis = createRedis(redisUrl());
  jobs = new JobStore(redis, keys);
  datasets = new DatasetStore(redis, keys, testBlobStore(prefix));
});
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('ids', () => {
  it('sort by creation time and match the id pattern', () => {
    const a = newId('job', 1_700_000_000_000);
    const b = newId('job', 1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(a).toMatch(ID_PATTERN);
  });
});

describe('DatasetStore', () => {
  it('stores float32 when lossless: 4 bytes a value, exact round trip, classes = max + 1', async () => {
    const meta = await datasets.create({ tenant: 'a', name: 'f32', rows: 3, featureCount: 2, targetWidth: 1, features: Float64Array.of(0.5, -2, 1e3, 0.25, 3, 4), targets: Float64Array.of(0, 4, 1) });
    expect(meta).toMatchObject({ dtype: 'float32', bytes: 9 * 4, targetKind: 'integer', classes: 5 });
    // The values live in one blob (features then targets); Redis holds the metadata only.
    expect(await datasets.blobs.head(keys.datasetBlob(meta.id))).toEqual({ size: 36 });
    expect(await redis.exists(keys.datasetFeatures(meta.id), keys.datasetTargets(meta.id))).toBe(0);
    const expected = Buffer.concat([Buffer.from(Float32Array.of(0.5, -2, 1e3, 0.25, 3, 4).buffer), Buffer.from(Float32Array.of(0, 4, 1).buffer)]);
    expect(meta.sha256).toBe(createHash('sha256').update(expected).digest('hex'));
    expect((await datasets.get(meta.id))!.sha256).toBe(meta.sha256);
    const loaded = (await datasets.load(meta.id))!;
    expect(loaded.features).toBeInstanceOf(Float32Array);
    expect(Array.from(loaded.features)).toEqual([0.5, -2, 1e3, 0.25, 3, 4]);
    expect(Array.from(loaded.targets)).toEqual([0, 4, 1]);
  });

  it('takes Float32Array columns as they are (stored float32, no check)', async () => {
    const features = Float32Array.of(0.1, 0.2, 0.3, 0.4);
    const meta = await datasets.create({ tenant: 'a', name: 'f32in', rows: 2, featureCount: 2, targetWidth: 1, features, targets: Float32Array.of(1, 0) });
    expect(meta).toMatchObject({ dtype: 'float32', bytes: 24, classes: 2 });
    const loaded = (await datasets.load(meta.id))!;
    expect(loaded.features).toEqual(features);
  });

  it('delete removes the blob; a blob that does not match its sha256 is refused on load', async () => {
    const meta = await datasets.create({ tenant: 'a', name: 'gone', rows: 1, featureCount: 1, targetWidth: 1, features: Float64Array.of(2), targets: Float64Array.of(1) });
    await datasets.blobs.put(keys.datasetBlob(meta.id), Buffer.from(Float32Array.of(3, 1).buffer));
    await expect(datasets.load(meta.id)).rejects.toBeInstanceOf(BlobIntegrityError);
    expect(await datasets.delete(meta.id, 'a')).toBe(true);
    expect(await datasets.blobs.head(keys.datasetBlob(meta.id))).toBeNull();
    expect(await datasets.load(meta.id)).toBeNull();
  });

  it('still reads a dataset stored in Redis before blob storage (no blob field, no sha256)', async () => {
    const id = 'ds_legacy0000000000000000';
    const meta = { id, name: 'old', rows: 2, features: 1, targets: 1, targetKind: 'integer', classes: 2, bytes: 16, dtype: 'float32', createdAt: new Date().toISOString() };
    await redis
      .multi()
      .set(keys.datasetFeatures(id), Buffer.from(Float32Array.of(1.5, 2.5).buffer))
      .set(keys.datasetTargets(id), Buffer.from(Float32Array.of(0, 1).buffer))
      .hset(keys.dataset(id), { tenant: 'a', meta: JSON.stringify(meta) })
      .zadd(keys.datasetIndex('a'), 0, id)
      .exec();
    const loaded = (await datasets.load(id))!;
    expect(Array.from(loaded.features)).toEqual([1.5, 2.5]);
    expect(Array.from(loaded.targets)).toEqual([0, 1]);
    expect(await datasets.delete(id, 'a')).toBe(true);
    expect(await redis.exists(keys.dataset(id), keys.datasetFeatures(id), keys.datasetTargets(id))).toBe(0);
  });

  it('stores float64 when any value would round in float32', async () => {
    const meta = await datasets.create({ tenant: 'a', name: 'f64', rows: 1, featureCount: 1, targetWidth: 1, features: Float64Array.of(0.1), targets: Float64Array.of(1) });
    expect(meta.dtype).toBe('float64');
    expect((await datasets.load(meta.id))!.features[0]).toBe(0.1);
  });

  it('takes Float32Array values as float32, and float64 when the other array needs it', async () => {
    const f32 = await datasets.create({ tenant: 'a', name: 'in32', rows: 2, featureCount: 1, targetWidth: 1, features: Float32Array.of(0.1, 2), targets: Float32Array.of(0, 1) });
    expect(f32).toMatchObject({ dtype: 'float32', bytes: 4 * 4, classes: 2 });
    expect((await datasets.load(f32.id))!.features[0]).toBe(Math.fround(0.1));
    const mixed = await datasets.create({ tenant: 'a', name: 'mix', rows: 2, featureCount: 1, targetWidth: 1, features: Float32Array.of(0.5, 2), targets: Float64Array.of(0.1, 1) });
    expect(mixed).toMatchObject({ dtype: 'float64', bytes: 4 * 8, targetKind: 'real' });
    expect(Array.from((await datasets.load(mixed.id))!.targets)).toEqual([0.1, 1]);
  });

  it('no classes for negative or multi-column integer targets', async () => {
    const neg = await datasets.create({ tenant: 'a', name: 'n', rows: 2, featureCount: 1, targetWidth: 1, features: Float64Array.of(1, 2), targets: Float64Array.of(-1, 1) });
    expect(neg.targetKind).toBe('integer');
    expect(neg.classes).toBeUndefined();
  });

  it('is scoped by tenant', async () => {
    const meta = await datasets.create({ tenant: 'a', name: 't', rows: 1, featureCount: 1, targetWidth: 1, features: Float64Array.of(1), targets: Float64Array.of(1) });
    expect(await datasets.get(meta.id, 'b')).toBeNull();
    expect(await datasets.delete(meta.id, 'b')).toBe(false);
    expect((await datasets.list('b', 10)).items).toEqual([]);
    expect(await datasets.get(meta.id, 'a')).not.toBeNull();
  });
});

describe('JobStore and the event stream', () => {
  it('event ids are 1, 2, 3... across writers; reads after an id are exclusive', async () => {
    const job = await jobs.create('a', moonsSpec('ds_x'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => jobs.appendEvent(job.id, 'progress', { i })));
    const all = await readJobEventsAfter(redis, keys.jobEvents(job.id), 0);
    expect(all.map((e) => e.id)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect((await readJobEventsAfter(redis, keys.jobEvents(job.id), 19)).map((e) => e.id)).toEqual([20, 21]);
  });

  it('appendEvent on a missing job writes nothing', async () => {
    expect(await jobs.appendEvent('job_gone', 'status', {})).toBe(0);
    expect(await redis.exists(keys.jobEvents('job_gone'), keys.job('job_gone'))).toBe(0);
  });

  it('a blocked reader wakes on the next event', async () => {
    const job = await jobs.create('a', moonsSpec('ds_x'));
    const reader = redis.duplicate();
    const waiting = waitEventsAfter(reader, keys.jobEvents(job.id), 1, 5000);
    await sleep(50); // the point: the reader is blocked in XREAD before the event is appended
    await jobs.appendEvent(job.id, 'status', { status: 'running' });
    expect((await waiting).map((e) => e.id)).toEqual([2]);
    reader.disconnect();
  });

  it('transitions are guarded: of start and cancel racing on a queued job exactly one wins', async () => {
    for (let i = 0; i < 10; i++) {
      const job = await jobs.create('a', moonsSpec('ds_x'));
      const [start, cancel] = await Promise.all([
        jobs.transition(job.id, ['queued'], { status: 'running' }, { incrementAttempts: true }),
        jobs.finish(job.id, ['queued'], 'cancelled'),
      ]);
      expect(Number(start.applied) + Number(cancel.applied)).toBe(1);
      const after = (await jobs.get(job.id))!;
      expect(after.status).toBe(start.applied ? 'running' : 'cancelled');
      expect(after.attempts).toBe(start.applied ? 1 : 0);
    }
  });

  it('list pages newest first and filters by status across pages', async () => {
    const t = 'lister';
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await jobs.create(t, moonsSpec('ds_x'))).id);
    for (const id of [ids[1], ids[4], ids[5]]) await jobs.finish(id, ['queued'], 'cancelled');
    const p1 = await jobs.list(t, { limit: 2, status: 'cancelled' });
    expect(p1.items.map((j) => j.id)).toEqual([ids[5], ids[4]]);
    const p2 = await jobs.list(t, { limit: 2, status: 'cancelled', after: p1.next! });
    expect(p2.items.map((j) => j.id)).toEqual([ids[1]]);
    expect(p2.next).toBeNull();
    const plain = await jobs.list(t, { limit: 7 });
    expect(plain.items.map((j) => j.id)).toEqual([...ids].reverse());
    expect(plain.next).toBeNull();
  });
});

describe('idempotency', () => {
  it('canonical JSON ignores key order; claims: new, replay, conflict', async () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    const p = { tenant: 'a', scope: 'jobs', key: 'k1', hash: bodyHash({ x: 1 }), resourceId: 'job_1', ttlSeconds: 60 };
    expect(await claimIdempotencyKey(redis, keys, p)).toEqual({ kind: 'new' });
    expect(await claimIdempotencyKey(redis, keys, { ...p, resourceId: 'job_2' })).toEqual({ kind: 'replay', resourceId: 'job_1' });
    expect(await claimIdempotencyKey(redis, keys, { ...p, hash: bodyHash({ x: 2 }) })).toEqual({ kind: 'conflict' });
    expect(await redis.ttl(keys.idempotency('a', 'jobs', 'k1'))).toBeGreaterThan(0);
  });
});
