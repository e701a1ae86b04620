import { serialize } from 'node:v8';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/core/index.js';
import type { Checkpoint, Model, TrainResult } from '../../src/core/types.js';
import { createRedis } from '../../src/queue/connection.js';
import { sweepBlobs } from '../../src/storage/blob-sweep.js';
import { LocalBlobStore, S3BlobStore, type BlobStore } from '../../src/storage/blobs/index.js';
import { JobFencedError } from '../../src/storage/checkpoint-store.js';
import { DatasetStore } from '../../src/storage/dataset-store.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor, type Keys } from '../../src/storage/keys.js';
import { decodeModel, encodeModel } from '../../src/storage/model-blob.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { deletePrefix, uniquePrefix } from '../helpers/redis.js';
import { S3rver, S3RVER_CREDENTIALS } from '../helpers/s3rver.js';
import { waitForState } from '../helpers/wait.js';

/*
 * Models and checkpoints in the blob store (inline threshold 0 here, so even the small test nets
 * go there), their clean-up, and the orphan sweep: real Redis, both real backends.
 */

let s3: S3rver;
let dir: string;
let redis: Redis;
let result: TrainResult;
const cks: Checkpoint[] = [];
const rows = moons(60);
const features = Float64Array.from(rows.flatMap((r) => r.slice(0, 2)));
const targets = Float64Array.from(rows.map((r) => r[2]));

beforeAll(async () => {
  s3 = await S3rver.start();
  dir = await mkdtemp(join(tmpdir(), 'tsnn-artifact-blobs-'));
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const { datasetId: _, ...spec } = moonsSpec('ds_x', 5);
  result = await train(spec, { features, targets, rows: 60, featureCount: 2, targetWidth: 1 }, { onCheckpoint: (c) => void (c.step === 0 && c.epoch > 0 && cks.push(c)) });
});
afterAll(async () => {
  redis?.disconnect();
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function keysUnder(blobs: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of blobs.list(prefix)) out.push(b.key);
  return out.sort();
}

describe('model blob format', () => {
  it('round-trips a trained model exactly (weightsHash and every weight), float64 and float32', () => {
    const back = decodeModel(encodeModel(result.model));
    expect(back).toEqual(result.model);
    const f32: Model = { ...result.model, layers: result.model.layers.map((l) => ({ ...l, weights: l.weights.map(Math.fround), bias: l.bias.map(Math.fround) })) };
    const bytes = encodeModel(f32);
    expect(bytes.readUInt8(12)).toBe(4);
    expect(decodeModel(bytes)).toEqual(f32);
    expect(encodeModel(result.model).length).toBeLessThan(JSON.stringify(result.model).length);
  });
});

describe.each([
  ['local', () => new LocalBlobStore(join(dir, 'store'))],
  ['s3 (s3rver)', () => new S3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, client: { credentials: S3RVER_CREDENTIALS } })],
] as const)('job artifacts in the blob store: %s', (_name, make) => {
  let blobs: BlobStore;
  let keys: Keys;
  let jobs: JobStore;
  let datasets: DatasetStore;
  let dsId: string;
  beforeAll(async () => {
    blobs = make();
    keys = keysFor(uniquePrefix('artblob'));
    jobs = new JobStore(redis, keys, { retentionSeconds: 100, blobs, inlineMaxBytes: 0 });
    datasets = new DatasetStore(redis, keys, blobs);
    dsId = (await datasets.create({ tenant: 'default', name: 'm', rows: 60, featureCount: 2, targetWidth: 1, features, targets })).id;
  });
  afterAll(async () => {
    await deletePrefix(keys.prefix);
    await blobs.close();
  });

  const running = async () => {
    const job = await jobs.create('default', moonsSpec(dsId, 5));
    await jobs.transition(job.id, ['queued'], { status: 'running' }, { incrementAttempts: true }); // attempt 1
    return job.id;
  };

  it('model: blob first, pointer committed fenced; a stale attempt leaves no blob; old inline records still read', async () => {
    const id = await running();
    expect(await jobs.saveArtifacts(id, result.model, result.history, { attempt: 1 })).toBe(true);
    const stored = JSON.parse((await redis.get(keys.jobModel(id)))!);
    expect(stored).toMatchObject({ blob: expect.stringMatching(new RegExp(`^${keys.jobBlobs(id)}model-a1-`)), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual([stored.blob]);
    expect(await jobs.getModel(id)).toEqual(result.model);
    // Another attempt owns the job: attempt 1 can neither overwrite nor leave a blob behind.
    await jobs.transition(id, ['running'], { status: 'running' }, { incrementAttempts: true });
    expect(await jobs.saveArtifacts(id, { ...result.model, weightsHash: 'stale' }, [], { attempt: 1 })).toBe(false);
    expect((await jobs.finish(id, ['running'], 'pruned', { artifacts: { model: { ...result.model, weightsHash: 'stale' }, history: [] } }, { attempt: 1 })).previous).toBe('fenced');
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual([stored.blob]);
    expect((await jobs.getModel(id))!.weightsHash).toBe(result.model.weightsHash);
    // Attempt 2 saves again: the replaced blob is deleted.
    expect(await jobs.saveArtifacts(id, result.model, result.history, { attempt: 2 })).toBe(true);
    const again = JSON.parse((await redis.get(keys.jobModel(id)))!);
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual([again.blob]);
    expect((await jobs.finish(id, ['running'], 'completed', {}, { attempt: 2 })).applied).toBe(true);
    expect(await jobs.getModel(id)).toEqual(result.model);

    // A record written before blob storage: the model JSON in Redis.
    const old = await running();
    await redis.set(keys.jobModel(old), JSON.stringify(result.model));
    expect(await jobs.getModel(old)).toEqual(result.model);
  });

  it('checkpoints: fenced pointer commit, replaced and finished checkpoints lose their blobs, inline ones still load', async () => {
    const id = await running();
    const ck = cks[1];
    await jobs.checkpoints().write(id, 1, { checkpoint: cks[0] });
    const first = await redis.hget(keys.jobCheckpoint(id), 'blob');
    expect(first).toMatch(new RegExp(`^${keys.jobBlobs(id)}ckpt-a1-`));
    expect(await redis.hexists(keys.jobCheckpoint(id), 'data')).toBe(0);
    await jobs.checkpoints().write(id, 1, { checkpoint: ck });
    const second = (await redis.hget(keys.jobCheckpoint(id), 'blob'))!;
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual([second]);
    const back = (await jobs.checkpoints().load(id))!;
    expect(back).toMatchObject({ epoch: ck.epoch, step: ck.step, attempt: 1 });
    expect(back.checkpoint).toEqual(ck);
    // Taken over: attempt 1's write is refused and its blob removed.
    await jobs.transition(id, ['running'], { status: 'running' }, { incrementAttempts: true });
    await expect(jobs.checkpoints().write(id, 1, { checkpoint: cks[2] })).rejects.toBeInstanceOf(JobFencedError);
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual([second]);
    // Finishing deletes the checkpoint and its blob in the same step.
    expect((await jobs.finish(id, ['running'], 'completed', {}, { attempt: 2 })).applied).toBe(true);
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual([]);

    // Old record: checkpoint bytes inline in the hash.
    const old = await running();
    await redis.hset(keys.jobCheckpoint(old), 'data', serialize(ck), 'epoch', String(ck.epoch), 'step', '0', 'attempt', '1', 'eventSeq', '1');
    expect((await jobs.checkpoints().load(old))!.checkpoint).toEqual(ck);
    // A checkpoint whose blob is gone is dropped (the job starts over), not an error.
    const lost = await running();
    await jobs.checkpoints().write(lost, 1, { checkpoint: ck });
    await blobs.delete((await redis.hget(keys.jobCheckpoint(lost), 'blob'))!);
    expect(await jobs.checkpoints().load(lost)).toBeNull();
    expect(await redis.exists(keys.jobCheckpoint(lost))).toBe(0);
  });

  it('kept checkpoints: blobs pruned beyond the kept count (the best stays), listing shows no blob fields, loadKept reads them', async () => {
    const id = await running();
    const store = jobs.checkpoints();
    for (const c of cks) await store.keep(id, c, 2, 100);
    const kept = await store.listKept(id);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThanOrEqual(3);
    for (const k of kept) expect(Object.keys(k)).not.toContain('blob');
    const entries = Object.values(await redis.hgetall(keys.jobKeptCheckpoints(id))).map((v) => JSON.parse(v) as { blob: string });
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual(entries.map((e) => e.blob).sort());
    for (const k of kept) expect(await store.loadKept(id, k.epoch)).toEqual(cks.find((c) => c.epoch === k.epoch));
    // Keeping the same epoch again (a retried attempt) replaces its blob.
    const last = cks.at(-1)!;
    await store.keep(id, last, 2, 100);
    expect((await keysUnder(blobs, keys.jobBlobs(id))).length).toBe(kept.length);
  });

  it('retention: once the finished job keys expire (Redis TTL), the sweep deletes its model and kept-checkpoint blobs', async () => {
    const shortLived = new JobStore(redis, keys, { retentionSeconds: 1, blobs, inlineMaxBytes: 0 });
    const job = await shortLived.create('default', moonsSpec(dsId, 5));
    await shortLived.transition(job.id, ['queued'], { status: 'running' }, { incrementAttempts: true });
    await shortLived.checkpoints().write(job.id, 1, { checkpoint: cks[0] });
    await shortLived.checkpoints().keep(job.id, cks[0], 2, 1);
    expect((await shortLived.finish(job.id, ['running'], 'completed', { artifacts: { model: result.model, history: result.history } }, { attempt: 1 })).applied).toBe(true);
    // the running checkpoint's blob went with finish; model and kept one stay while the job lives
    expect((await keysUnder(blobs, keys.jobBlobs(job.id))).map((k) => k.split('/').at(-1)!.split('-')[0]).sort()).toEqual(['kept', 'model']);
    expect((await sweepBlobs(redis, keys, blobs, { graceMs: 0 })).deleted.filter((k) => k.startsWith(keys.jobBlobs(job.id)))).toEqual([]);
    const live = [keys.job(job.id), keys.jobModel(job.id), keys.jobKeptCheckpoints(job.id)];
    const left = async () => (await Promise.all(live.map(async (k) => ((await redis.exists(k)) ? k : '')))).filter(Boolean);
    await waitForState('the finished job\'s keys to expire (retention 1 s)', left, (ks) => ks.length === 0, { timeoutMs: 5000, intervalMs: 100 });
    await sweepBlobs(redis, keys, blobs, { graceMs: 0 });
    expect(await keysUnder(blobs, keys.jobBlobs(job.id))).toEqual([]);
  });

  it('orphan sweep: unreferenced blobs older than the grace period go (datasets too), referenced and young ones stay', async () => {
    const id = await running();
    await jobs.saveArtifacts(id, result.model, result.history, { attempt: 1 });
    await jobs.checkpoints().write(id, 1, { checkpoint: cks[0] });
    await jobs.checkpoints().keep(id, cks[0], 2, 100);
    const referenced = await keysUnder(blobs, keys.jobBlobs(id));
    expect(referenced.length).toBe(3);
    // Writers that died between blob and record: a dataset blob and a job blob nobody references.
    await blobs.put(keys.datasetBlob('ds_orphan1'), new Uint8Array(16));
    await blobs.put(`${keys.jobBlobs(id)}model-a9-deadbeef0000.bin`, new Uint8Array(16));
    await blobs.put(`${keys.jobBlobs('job_neverrecorded')}ckpt-a1-000000000000.bin`, new Uint8Array(16));
    // Not this deployment's: another key prefix's folder in the same store, and a blob from before blobs had folders.
    const foreign = [keysFor('other-deployment:').datasetBlob('ds_theirs'), 'datasets/ds_legacy.bin'];
    for (const k of foreign) await blobs.put(k, new Uint8Array(8));
    // A job whose record expired (retention): all its blobs are orphans.
    const expired = await running();
    await jobs.saveArtifacts(expired, result.model, result.history, { attempt: 1 });
    const expiredBlobs = await keysUnder(blobs, keys.jobBlobs(expired));
    await redis.del(keys.job(expired), keys.jobModel(expired), keys.jobMetrics(expired));

    // Within the grace period nothing goes.
    const young = await sweepBlobs(redis, keys, blobs, { graceMs: 60_000 });
    expect(young.deleted).toEqual([]);
    expect(await blobs.head(keys.datasetBlob('ds_orphan1'))).not.toBeNull();
    // Past it, only the unreferenced ones go (a clock 2 min ahead).
    const swept = await sweepBlobs(redis, keys, blobs, { graceMs: 60_000, now: Date.now() + 120_000 });
    expect(swept.deleted).toEqual(expect.arrayContaining([keys.datasetBlob('ds_orphan1'), `${keys.jobBlobs(id)}model-a9-deadbeef0000.bin`, `${keys.jobBlobs('job_neverrecorded')}ckpt-a1-000000000000.bin`, ...expiredBlobs]));
    expect(await blobs.head(keys.datasetBlob('ds_orphan1'))).toBeNull();
    expect(await keysUnder(blobs, keys.jobBlobs(id))).toEqual(referenced);
    expect(await keysUnder(blobs, keys.jobBlobs(expired))).toEqual([]);
    expect(await blobs.head(keys.datasetBlob(dsId))).not.toBeNull();
    expect(await jobs.getModel(id)).toEqual(result.model);
    for (const k of foreign) expect(await blobs.head(k), k).not.toBeNull();
    for (const k of foreign) await blobs.delete(k);
  });
});

describe('orphan sweep of the local store', () => {
  it('removes temp files a crashed write left once they are older than the grace period', async () => {
    const blobs = new LocalBlobStore(join(dir, 'tmpfiles'));
    const keys = keysFor(uniquePrefix('artblob'));
    await blobs.put(keys.datasetBlob('ds_keep'), new Uint8Array(4));
    await redis.hset(keys.dataset('ds_keep'), 'blob', keys.datasetBlob('ds_keep'));
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(blobs.root, keys.blobFolder, 'datasets'), { recursive: true });
    const tmp = join(blobs.root, keys.blobFolder, 'datasets', 'ds_x.bin.tmp-abcdef012345');
    await writeFile(tmp, 'half');
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(tmp, old, old);
    await utimes(join(blobs.root, keys.blobFolder, 'datasets', 'ds_keep.bin'), old, old);
    const r = await sweepBlobs(redis, keys, blobs, { graceMs: 3600_000 });
    expect(r.deleted).toEqual([`${keys.blobFolder}datasets/ds_x.bin.tmp-abcdef012345`]);
    expect(await keysUnder(blobs, `${keys.blobFolder}datasets/`)).toEqual([keys.datasetBlob('ds_keep')]);
    await deletePrefix(keys.prefix);
  });
});
