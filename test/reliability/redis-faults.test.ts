import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSet, EpochMetrics } from '../../src/core/types.js';
import { evictionPolicyWarning } from '../../src/queue/connection.js';
import type { Job } from '../../src/schemas/job.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { freePort } from '../helpers/net.js';
import { uniquePrefix, prefixEnv } from '../helpers/redis.js';
import { isFinished, killWorker, longSpec, privateRedis, redisClient, referenceHash, sleep, startApi, startWorker, stopWorker, storeMoons, waitCheckpoint, waitJob, type WorkerProc } from './harness.js';
import { waitForState } from '../helpers/wait.js';
import { keysFor } from '../../src/storage/keys.js';

/*
 * A Redis of this test's own (AOF, fsync always) is stopped for a few seconds and started again
 * while one job has finished, one runs and one waits. While it is down the API answers 503 with
 * Retry-After and /readyz fails; afterwards everything recovers by itself and nothing is lost.
 */
const prefix = uniquePrefix('rf');
const K = keysFor(prefix);
let dir: string;
let server: Awaited<ReturnType<typeof privateRedis>>;
let api: { app: FastifyInstance; base: string };
let worker: WorkerProc;
let env: Record<string, string>;
let redis: Redis;
let datasetId: string;
let data: DataSet;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsnn-rf-'));
  server = await privateRedis(await freePort(), dir);
  redis = redisClient(server.url);
  redis.on('error', () => {});
  env = { REDIS_URL: server.url, ...prefixEnv(prefix) };
  api = await startApi(prefix, env);
  worker = await startWorker(env);
  ({ datasetId, data } = await storeMoons(api.app, 20_000));
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await api?.app.close();
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const post = (body: unknown) => fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('Redis stopped and restarted', () => {
  it('warns about an evicting maxmemory-policy', async () => {
    expect(await evictionPolicyWarning(redis)).toBeNull();
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    expect(await evictionPolicyWarning(redis)).toMatch(/allkeys-lru.*noeviction/);
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
  });

  it('503 + Retry-After while down, recovers by itself; finished, running and queued jobs all survive', async () => {
    const [refLong, refShort] = [await referenceHash(longSpec(20), data), await referenceHash(longSpec(2), data)];
    const finished = ((await (await post({ datasetId, ...longSpec(2) })).json()) as Job).id;
    const done = await waitJob(api.base, finished, isFinished);
    expect(done.status).toBe('completed');
    const running = ((await (await post({ datasetId, ...longSpec(20) })).json()) as Job).id;
    const queued = ((await (await post({ datasetId, ...longSpec(2) })).json()) as Job).id;
    await waitJob(api.base, running, (j) => j.status === 'running');
    await waitCheckpoint(redis, K, running);

    await server.stop();
    const down = performance.now();
    const during = await Promise.all([fetch(`${api.base}/v1/jobs/${finished}`), post({ datasetId, ...longSpec(2) }), fetch(`${api.base}/readyz`), fetch(`${api.base}/healthz`)]);
    expect(during.map((r) => r.status)).toEqual([503, 503, 503, 200]);
    for (const r of during.slice(0, 3)) {
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    await sleep(2500); // the outage itself: Redis stays down 2.5 s
    await server.start();
    let ready = 0;
    await waitForState('/readyz to answer 200 after Redis restarted', async () => (await fetch(`${api.base}/readyz`)).status, (status) => status === 200 || (ready++, false), { timeoutMs: 30_000 });
    const recoveredMs = performance.now() - down;
    expect(((await (await fetch(`${api.base}/v1/jobs/${finished}`)).json()) as Job).result).toEqual(done.result);

    const jobs = await Promise.all([running, queued].map((id) => waitJob(api.base, id, isFinished, 120_000)));
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);
    expect(jobs.map((j) => j.result!.weightsHash)).toEqual([refLong, refShort]);
    const metrics = ((await (await fetch(`${api.base}/v1/jobs/${running}/metrics`)).json()) as { history: EpochMetrics[] }).history;
    expect(metrics.map((m) => m.epoch)).toEqual([...Array(20).keys()]);
    for (const id of [finished, running, queued]) {
      const events = await readJobEventsAfter(redis, K.jobEvents(id), 0);
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.type)).length).toBe(1);
    }
    // The running job either waited through the outage in place or was recovered and resumed from its checkpoint.
    const statuses = (await readJobEventsAfter(redis, K.jobEvents(running), 0)).filter((e) => e.type === 'status').map((e) => JSON.parse(e.data));
    const resumed = statuses.filter((s) => s.resumed);
    expect(jobs[0].attempts === 1 || resumed.length === jobs[0].attempts - 1).toBe(true);
    console.log(`Redis down ~2.5 s: /readyz 200 again ${Math.round(recoveredMs)} ms after the stop (${ready} polls after restart); running job attempts=${jobs[0].attempts}, resumed from ${JSON.stringify(resumed.map((s) => [s.fromEpoch, s.fromStep]))}`);
  }, 150_000);

  it('a worker that dies while Redis is down: after the restart a new worker resumes the job from its checkpoint', async () => {
    const reference = await referenceHash(longSpec(20), data);
    const id = ((await (await post({ datasetId, ...longSpec(20) })).json()) as Job).id;
    await waitJob(api.base, id, (j) => j.status === 'running');
    await waitCheckpoint(redis, K, id);
    await server.stop();
    await killWorker(worker);
    await sleep(1000); // the point: Redis stays down a while after the worker died
    await server.start();
    const ck = await redis.hmget(K.jobCheckpoint(id), 'epoch', 'step');
    worker = await startWorker(env);
    const job = await waitJob(api.base, id, isFinished, 120_000);
    expect(job.status, JSON.stringify(job.error)).toBe('completed');
    expect(job.attempts).toBe(2);
    expect(job.result!.weightsHash).toBe(reference);
    const running = (await readJobEventsAfter(redis, K.jobEvents(id), 0)).filter((e) => e.type === 'status').map((e) => JSON.parse(e.data)).filter((s) => s.status === 'running');
    expect(running[1]).toMatchObject({ attempt: 2, resumed: true, fromEpoch: Number(ck[0]), fromStep: Number(ck[1]) });
  }, 150_000);
});
