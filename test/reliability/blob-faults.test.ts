import { request } from 'node:http';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/queue/connection.js';
import type { Job } from '../../src/schemas/job.js';
import { BlobStoreUnavailableError, createBlobStore, S3BlobStore, type BlobStore } from '../../src/storage/blobs/index.js';
import { DatasetStore } from '../../src/storage/dataset-store.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { keysFor } from '../../src/storage/keys.js';
import { JobStore } from '../../src/storage/job-store.js';
import { jobBlobRefs, sweepBlobs } from '../../src/storage/blob-sweep.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/redis.js';
import { S3rver, S3RVER_CREDENTIALS } from '../helpers/s3rver.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { workerStack, type WorkerStack } from '../helpers/worker-stack.js';

/*
 * The blob store failing under the service: a real S3-protocol server (s3rver) stopped and
 * started again, a client upload cut half-way. Never a mock.
 */

let s3: S3rver;
beforeAll(async () => {
  s3 = await S3rver.start();
  // The SDK's default credential chain (what the service uses) reads these; trainer children inherit them.
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
});
afterAll(async () => s3?.close());

const s3Env = () => {
  const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _b, ...env } = s3.env();
  return env;
};

async function bucketKeys(prefix = ''): Promise<string[]> {
  const store = new S3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, client: { credentials: S3RVER_CREDENTIALS } });
  try {
    const res = await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    return (res.Contents ?? []).map((o) => o.Key!);
  } finally {
    await store.close();
  }
}

const csv = toCsv(['x', 'y', 'label'], moons(60));

describe('API with the S3 blob store down', () => {
  it('upload and delete answer 503 + Retry-After (problem+json) and change nothing; both work once it is back', async () => {
    const t = await testApp('blob503', s3Env());
    try {
      const upload = () => t.app.inject({ method: 'POST', url: '/v1/datasets?target=label', headers: { 'content-type': 'text/csv' }, payload: csv });
      await s3.stop();
      const down = await upload();
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(problem(down)).toMatchObject({ code: 'blob_store_unavailable' });
      expect((await t.app.inject({ url: '/v1/datasets' })).json().items).toEqual([]);

      await s3.start();
      const up = await upload();
      expect(up.statusCode).toBe(201);
      const ds = up.json();
      expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(await bucketKeys(t.app.svc.keys.datasetBlob(ds.id))).toEqual([t.app.svc.keys.datasetBlob(ds.id)]);

      await s3.stop();
      const del = await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${ds.id}` });
      expect(del.statusCode).toBe(503);
      expect(del.headers['retry-after']).toBe('5');
      expect((await t.app.inject({ url: `/v1/datasets/${ds.id}` })).statusCode).toBe(200);

      await s3.start();
      expect((await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${ds.id}` })).statusCode).toBe(204);
      expect(await bucketKeys(t.app.svc.keys.datasetBlob(ds.id))).toEqual([]);
    } finally {
      await s3.start();
      await t.close();
    }
  });
});

describe('/readyz checks the blob store', () => {
  it('reports it when up; S3 stopped → 503 blob_store_unavailable naming the store; ready again once it is back', async () => {
    const t = await testApp('blobready', s3Env());
    try {
      const up = await t.app.inject({ url: '/readyz' });
      expect(up.statusCode).toBe(200);
      expect(up.json()).toMatchObject({ status: 'ready', checks: { redis: 'ok', blobStore: { status: 'ok', kind: 's3', location: expect.stringContaining(`s3://${s3.bucket}`) } } });
      await s3.stop();
      const started = Date.now();
      const down = await t.app.inject({ url: '/readyz' });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(problem(down)).toMatchObject({ code: 'blob_store_unavailable', detail: expect.stringContaining(`s3://${s3.bucket}`) });
      await s3.start();
      expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await s3.start();
      await t.close();
    }
  });

  it('local store: a DATA_DIR that cannot be written → 503 blob_store_unavailable', async () => {
    const t = await testApp('blobreadylocal', { DATA_DIR: '/proc/tsnn-not-writable' });
    try {
      const res = await t.app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(problem(res)).toMatchObject({ code: 'blob_store_unavailable', detail: expect.stringContaining('/proc/tsnn-not-writable') });
    } finally {
      await t.close();
    }
  });
});

describe('S3 server stopped mid-transfer', () => {
  let redis: Redis;
  let datasets: DatasetStore;
  let blobs: BlobStore;
  const prefix = uniquePrefix('s3mid');
  const keys = keysFor(prefix);
  beforeAll(() => {
    redis = createRedis(testConfig(prefix).REDIS_URL);
    blobs = createBlobStore(testConfig(prefix, s3Env()));
    datasets = new DatasetStore(redis, keys, blobs);
  });
  afterAll(async () => {
    await blobs.close();
    await deletePrefix(prefix);
    redis.disconnect();
  });

  // 48 MB of float32 features: six multipart parts, long enough to stop the server in between.
  const rows = 600_000;
  const big = () => {
    const features = new Float32Array(rows * 20);
    for (let i = 0; i < features.length; i++) features[i] = (i % 977) / 977;
    return { tenant: 'default', name: 'big', rows, featureCount: 20, targetWidth: 1, features, targets: new Float32Array(rows).map((_, i) => i % 3) };
  };

  it('mid-upload: create fails with BlobStoreUnavailableError; no dataset and no object exist afterwards', async () => {
    const partsBefore = (s3.log.match(/UploadPart/g) ?? []).length;
    const create = datasets.create(big());
    const outcome = create.then(
      () => 'stored',
      (e: unknown) => e,
    );
    await waitFor('the first part to arrive', () => (s3.log.match(/UploadPart/g) ?? []).length > partsBefore, { intervalMs: 5, timeoutMs: 20_000 });
    await s3.stop();
    const err = await outcome;
    expect(err).toBeInstanceOf(BlobStoreUnavailableError);
    expect((err as Error).message).toMatch(/S3 blob store s3:\/\/.*uploading '[^']*datasets\/ds_/);
    expect((await datasets.list('default', 10)).items).toEqual([]);
    await s3.start();
    expect(await bucketKeys(`${keys.blobFolder}datasets/`)).toEqual([]);
  });

  it('mid-download: load fails with BlobStoreUnavailableError (not a checksum error) and works once the server is back', async () => {
    const meta = await datasets.create(big());
    const target = new Uint8Array(meta.bytes);
    let stopped: Promise<void> | undefined;
    const err = await blobs
      .getInto(keys.datasetBlob(meta.id), target, { sha256: meta.sha256!, onChunk: () => void (stopped ??= s3.stop()) })
      .then(() => 'read', (e: unknown) => e);
    await stopped;
    expect(err).toBeInstanceOf(BlobStoreUnavailableError);
    await expect(datasets.load(meta.id)).rejects.toBeInstanceOf(BlobStoreUnavailableError);
    await s3.start();
    const loaded = (await datasets.load(meta.id))!;
    expect(loaded.features[12345]).toBe(big().features[12345]);
    expect(await datasets.delete(meta.id, 'default')).toBe(true);
  });
});

describe('worker with the S3 blob store', () => {
  let stack: WorkerStack;
  let dsId: string;
  beforeAll(async () => {
    stack = workerStack('s3wrk', { ...s3Env(), BLOB_RETRY_DELAY_MS: '300' }, { attempts: 1 });
    dsId = await stack.storeRows(moons(80));
  });
  afterAll(async () => stack?.close());

  const waitJob = (id: string, pred: (j: Job) => boolean) => stack.waitJob(id, pred);
  const submit = () => stack.submit(moonsSpec(dsId, 5));

  it('a job whose dataset cannot be downloaded is queued again (no attempt used, one allowed) and completes once S3 is back', async () => {
    await s3.stop();
    const id = await submit();
    try {
      await waitFor('a retry event', async () => (await readJobEventsAfter(stack.redis, stack.keys.jobEvents(id), 0)).some((e) => JSON.parse(e.data).retry === true), { intervalMs: 5, timeoutMs: 20_000 });
      await sleep(1000); // the point: a few more tries while S3 is down, none of which may fail the job
      expect((await stack.jobs.get(id))!.status).not.toBe('failed');
    } finally {
      await s3.start();
    }
    const done = await waitJob(id, (j) => ['completed', 'failed'].includes(j.status));
    expect(done.status).toBe('completed');
    const reasons = (await readJobEventsAfter(stack.redis, stack.keys.jobEvents(id), 0)).map((e) => JSON.parse(e.data)).filter((d) => d.retry);
    expect(reasons[0].reason).toMatch(/S3 blob store/);
  });

  it('the next jobs on the same dataset download nothing: the worker reads its disk cache (no GetObject reaches S3)', async () => {
    const before = s3.getObjectCount();
    for (let i = 0; i < 2; i++) expect((await waitJob(await submit(), (j) => ['completed', 'failed'].includes(j.status))).status).toBe('completed');
    expect(s3.getObjectCount()).toBe(before);
  });
});

describe('worker with models and checkpoints in S3 (BLOB_INLINE_MAX_BYTES=0)', () => {
  let stack: WorkerStack;
  let dsId: string;
  beforeAll(async () => {
    stack = workerStack('s3ckpt', { ...s3Env(), BLOB_RETRY_DELAY_MS: '300', BLOB_INLINE_MAX_BYTES: '0' }, { attempts: 1 });
    dsId = await stack.storeRows(moons(80));
  });
  afterAll(async () => stack?.close());

  it('S3 stopped mid-training: the checkpoint write fails, the job is queued again (no attempt used) and completes with the uninterrupted weights; no orphan blob stays', async () => {
    const spec = moonsSpec(dsId, 300);
    // Uninterrupted reference (also warms the worker's dataset cache, so only checkpoint writes meet the outage).
    const ref = await stack.waitJob(await stack.submit(spec), (j) => ['completed', 'failed'].includes(j.status), 120_000);
    expect(ref.status).toBe('completed');
    const id = await stack.submit(spec);
    await waitFor('a checkpoint in the blob store', async () => (await stack.redis.hget(stack.keys.jobCheckpoint(id), 'blob')) !== null, { intervalMs: 5, timeoutMs: 60_000 });
    await s3.stop();
    try {
      await waitFor('a retry event', async () => (await readJobEventsAfter(stack.redis, stack.keys.jobEvents(id), 0)).some((e) => JSON.parse(e.data).retry === true), { intervalMs: 5, timeoutMs: 20_000 });
      await sleep(500); // the point: a few more tries while S3 is down, none of which may fail the job
      expect((await stack.jobs.get(id))!.status).not.toBe('failed');
    } finally {
      await s3.start();
    }
    const done = await stack.waitJob(id, (j) => ['completed', 'failed'].includes(j.status), 120_000);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.result!.weightsHash).toBe(ref.result!.weightsHash);
    const reader = new JobStore(stack.redis, stack.keys, { blobs: stack.datasets.blobs });
    expect((await reader.getModel(id))!.weightsHash).toBe(ref.result!.weightsHash);
    // What the bucket holds for the job is exactly what its records reference (after a sweep of anything a cut write left).
    await sweepBlobs(stack.redis, stack.keys, stack.datasets.blobs, { graceMs: 0 });
    const refs = [...(await jobBlobRefs(stack.redis, stack.keys, id))].sort();
    expect(refs.some((k) => k.includes('/model-'))).toBe(true);
    expect(await bucketKeys(stack.keys.jobBlobs(id))).toEqual(refs);
  }, 300_000);
});

describe.each(['local', 's3'] as const)('upload connection cut half-way (%s)', (kind) => {
  it('leaves no dataset and no blob', async () => {
    const t = await testApp(`cut${kind}`, kind === 's3' ? s3Env() : {});
    try {
      const keysBefore = kind === 's3' ? await bucketKeys(`${t.app.svc.keys.blobFolder}datasets/`) : [];
      const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const body = Buffer.from(toCsv(['x', 'y', 'label'], moons(20_000)));
      const req = request(`${base}/v1/datasets?target=label`, { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': body.length } });
      req.on('error', () => {});
      req.write(body.subarray(0, body.length >> 1));
      // The point: half the body reaches the server, the client vanishes, and nothing may be left a while later.
      await sleep(300);
      req.destroy();
      await sleep(500);
      expect((await t.app.inject({ url: '/v1/datasets' })).json().items).toEqual([]);
      if (kind === 's3') expect(await bucketKeys(`${t.app.svc.keys.blobFolder}datasets/`)).toEqual(keysBefore);
      else {
        const { readdirSync, existsSync } = await import('node:fs');
        const dir = `${t.app.svc.config.DATA_DIR}/${t.app.svc.keys.blobFolder}datasets`;
        expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
      }
    } finally {
      await t.close();
    }
  });
});
