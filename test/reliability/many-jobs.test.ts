import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import type { Job } from '../../src/schemas/job.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { sweepJobIndexes } from '../../src/storage/retention.js';
import { keysFor } from '../../src/storage/keys.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { deletePrefix, uniquePrefix, testQueuePrefix } from '../helpers/redis.js';
import { waitForState } from '../helpers/wait.js';
import { isFinished, redisClient, startApi, startWorker, stopWorker, waitJob, type WorkerProc } from './harness.js';

const redis = redisClient();
const workers: WorkerProc[] = [];
const apps: FastifyInstance[] = [];
const prefixes: string[] = [];

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w)));
  for (const a of apps) await a.close();
  for (const p of prefixes) await deletePrefix(p);
  redis.disconnect();
});

async function dataset(base: string, rows = 80): Promise<string> {
  const features = moons(rows);
  const res = await fetch(`${base}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'm', features: features.map((r) => r.slice(0, 2)), targets: features.map((r) => r[2]) }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe('100 jobs submitted at once to two workers', () => {
  it('all complete exactly once: one terminal event each, nothing left running, waiting or failed', async () => {
    const prefix = uniquePrefix('many');
    const qp = testQueuePrefix(prefix);
    prefixes.push(prefix);
    const env = { KEY_PREFIX: prefix, QUEUE_PREFIX: qp, MAX_ACTIVE_JOBS_PER_TENANT: '1000', RATE_LIMIT_MAX: '0' };
    const { app, base } = await startApi(prefix, env);
    apps.push(app);
    workers.push(...(await Promise.all([startWorker(env), startWorker(env)])));
    const ds = await dataset(base);
    const t0 = performance.now();
    const ids = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...moonsSpec(ds, 3), seed: i }) });
        expect(res.status).toBe(202);
        return ((await res.json()) as Job).id;
      }),
    );
    expect(new Set(ids).size).toBe(100);
    const jobs = await Promise.all(ids.map((id) => waitJob(base, id, isFinished, 120_000)));
    const ms = performance.now() - t0;
    expect(jobs.filter((j) => j.status !== 'completed')).toEqual([]);
    expect(jobs.every((j) => j.attempts === 1)).toBe(true);
    const keys = keysFor(prefix);
    for (const id of ids) {
      const events = await readJobEventsAfter(redis, keys.jobEvents(id), 0);
      expect(events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.type)).map((e) => e.type)).toEqual(['completed']);
      expect(events.filter((e) => e.type === 'status' && JSON.parse(e.data).status === 'running').length).toBe(1);
    }
    const q = new Queue('training', { connection: redis, prefix: qp });
    const counts = await q.getJobCounts('active', 'wait', 'delayed', 'failed');
    await q.close();
    expect(counts).toEqual({ active: 0, wait: 0, delayed: 0, failed: 0 });
    const byWorker = workers.map((w) => (w.output().match(/"job completed"/g) ?? []).length);
    expect(byWorker.reduce((a, b) => a + b, 0)).toBe(100);
    console.log(`100 tiny jobs on 2 workers: all completed once in ${Math.round(ms)} ms (split ${byWorker.join('/')})`);
  }, 150_000);
});

describe('retention', () => {
  it('a finished job (completed, or cancelled while running) and every key of it expire together after JOB_RETENTION_SECONDS; the index is swept', async () => {
    const prefix = uniquePrefix('ret');
    prefixes.push(prefix);
    // BullMQ's own keys live elsewhere, so SCAN of our prefix sees only our keys.
    const env = { KEY_PREFIX: prefix, QUEUE_PREFIX: testQueuePrefix(uniquePrefix('retq')), JOB_RETENTION_SECONDS: '1' };
    prefixes.push(env.QUEUE_PREFIX.replace(/bull$/, ''));
    const { app, base } = await startApi(prefix, env);
    apps.push(app);
    const w = await startWorker(env);
    workers.push(w);
    const ds = await dataset(base);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await (await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(moonsSpec(ds, 2)) })).json()) as Job).id);
    await Promise.all(ids.map((id) => waitJob(base, id, (j) => j.status === 'completed')));
    const keys = keysFor(prefix);
    const scan = async () => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
      return found.sort();
    };
    // Before expiry: record, events, model and metrics exist, each with a TTL; no checkpoint is left.
    for (const id of ids) {
      for (const k of [keys.job(id), keys.jobEvents(id), keys.jobModel(id), keys.jobMetrics(id)]) expect(await redis.pttl(k)).toBeGreaterThan(0);
      expect(await redis.exists(keys.jobCheckpoint(id))).toBe(0);
    }
    expect(await (await fetch(`${base}/v1/datasets/${ds}`, { method: 'DELETE' })).status).toBe(204);
    // A job cancelled while running keeps model and metrics: they get the TTL too, no checkpoint is left.
    const big = await dataset(base, 4000);
    const cancelled = ((await (await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(moonsSpec(big, 5000)) })).json()) as Job).id;
    // Cancel once an epoch finished (the running job's /metrics shows it), so there is a model to keep.
    await waitForState(`a finished epoch in /v1/jobs/${cancelled}/metrics`, async () => ((await (await fetch(`${base}/v1/jobs/${cancelled}/metrics`)).json()) as { history: unknown[] }).history.length, (n) => n >= 1, { timeoutMs: 30_000, intervalMs: 20 });
    expect((await fetch(`${base}/v1/jobs/${cancelled}/cancel`, { method: 'POST' })).status).toBe(202);
    expect((await waitJob(base, cancelled, isFinished)).status).toBe('cancelled');
    for (const k of [keys.job(cancelled), keys.jobEvents(cancelled), keys.jobModel(cancelled), keys.jobMetrics(cancelled)]) expect(await redis.pttl(k)).toBeGreaterThan(0);
    expect(await redis.exists(keys.jobCheckpoint(cancelled))).toBe(0);
    expect(await (await fetch(`${base}/v1/datasets/${big}`, { method: 'DELETE' })).status).toBe(204);
    ids.push(cancelled);
    await waitForState('the records of the finished jobs to expire (JOB_RETENTION_SECONDS=1)', async () => (await Promise.all(ids.map(async (id) => ((await redis.exists(keys.job(id))) ? id : '')))).filter(Boolean), (left) => left.length === 0, { timeoutMs: 30_000, intervalMs: 100 });
    expect(await sweepJobIndexes(redis, keys)).toBeGreaterThanOrEqual(4);
    // Deployment-wide keys (the workers' measured throughput and slots, the capped stream of finished jobs) stay; nothing of a job does.
    const deploymentWide = [keys.workerSlots(), keys.workerThroughput(), keys.jobOutcomes()];
    expect((await scan()).filter((k) => !deploymentWide.includes(k))).toEqual([]);
    expect(((await (await fetch(`${base}/v1/jobs/${ids[0]}`)).json()) as { status: number }).status).toBe(404);
  }, 60_000);
});
