import { execFileSync } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSet } from '../../src/core/types.js';
import type { Job } from '../../src/schemas/job.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { problem } from '../helpers/app.js';
import { deletePrefix, uniquePrefix, prefixEnv } from '../helpers/redis.js';
import { isFinished, longSpec, redisClient, referenceHash, startApi, startWorker, stopWorker, storeMoons, waitCheckpoint, waitJob, type WorkerProc } from './harness.js';
import { keysFor } from '../../src/storage/keys.js';

/* Timeouts, retries after a crashed trainer, and datasets that running jobs still need. */
const prefix = uniquePrefix('fail');
const K = keysFor(prefix);
const env = { ...prefixEnv(prefix), JOB_ATTEMPTS: '3' };
const redis = redisClient();
let api: { app: FastifyInstance; base: string };
let worker: WorkerProc;
let datasetId: string;
let data: DataSet;

beforeAll(async () => {
  api = await startApi(prefix, env);
  worker = await startWorker(env);
  ({ datasetId, data } = await storeMoons(api.app, 20_000));
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await api?.app.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

const submit = async (body: object) => ((await (await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId, ...body }) })).json()) as Job).id;

describe('failures', () => {
  it('maxDurationSeconds ends a job with code timeout and keeps the model of its last checkpoint; its dataset cannot be deleted meanwhile (409)', async () => {
    const id = await submit({ ...longSpec(500), maxDurationSeconds: 2 });
    await waitJob(api.base, id, (j) => j.status === 'running');
    const del = await fetch(`${api.base}/v1/datasets/${datasetId}`, { method: 'DELETE' });
    expect(del.status).toBe(409);
    expect(problem({ statusCode: del.status, headers: Object.fromEntries(del.headers), body: await del.text() }).code).toBe('dataset_in_use');
    const job = await waitJob(api.base, id, isFinished, 60_000);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, maxDurationSeconds: 2, error: { code: 'timeout' } });
    const metrics = ((await (await fetch(`${api.base}/v1/jobs/${id}/metrics`)).json()) as { history: unknown[] }).history;
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics.length).toBeLessThan(500);
    const model = await fetch(`${api.base}/v1/jobs/${id}/model`);
    expect(model.status).toBe(200);
    const { weightsHash } = (await model.json()) as { weightsHash: string };
    expect(job.error!.message).toContain(weightsHash);
    expect(await redis.exists(K.jobCheckpoint(id))).toBe(0);
  }, 60_000);

  it('a crashed trainer process is retried with backoff and resumes from its checkpoint (invalid_spec/diverged never retry: test/workers)', async () => {
    const reference = await referenceHash(longSpec(25), data);
    const id = await submit(longSpec(25));
    await waitJob(api.base, id, (j) => j.status === 'running');
    await waitCheckpoint(redis, K, id);
    // Kill only the trainer child (OOM-like): the worker survives and BullMQ counts a failed attempt.
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(worker.child.pid)]).toString().trim().split(/\s+/).map(Number);
    expect(children.length).toBeGreaterThan(0);
    for (const pid of children) process.kill(pid, 'SIGKILL');
    const job = await waitJob(api.base, id, isFinished, 90_000);
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    expect(job.attempts).toBe(2);
    expect(job.result!.weightsHash).toBe(reference);
    const statuses = (await readJobEventsAfter(redis, K.jobEvents(id), 0)).filter((e) => e.type === 'status').map((e) => JSON.parse(e.data));
    expect(statuses.filter((s) => s.status === 'running').map((s) => s.resumed ?? false)).toEqual([false, true]);

    expect((await fetch(`${api.base}/v1/datasets/${datasetId}`, { method: 'DELETE' })).status).toBe(204);
  }, 120_000);
});
