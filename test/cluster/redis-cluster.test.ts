/**
 * The service on a real 3-master Redis Cluster (redis-server --cluster-enabled yes on loopback
 * ports of the test's own, AOF on): the same end-to-end paths as on one Redis, plus a master
 * killed and restarted mid-job. Slow: its own file.
 */
import type { FastifyInstance } from 'fastify';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub } from '../../src/api/event-hub.js';
import type { DataSet } from '../../src/core/types.js';
import { createRedisClient, masters } from '../../src/queue/connection.js';
import type { Job } from '../../src/schemas/job.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor, slotOf } from '../../src/storage/keys.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { sweepKeys } from '../../src/storage/retention.js';
import { moons, toCsv } from '../helpers/data.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { readSse } from '../helpers/sse-client.js';
import { isFinished, killWorker, longSpec, referenceHash, sleep, startApi, startWorker, stopWorker, waitCheckpoint, waitJob, type WorkerProc } from '../reliability/harness.js';
import { waitForState } from '../helpers/wait.js';

const prefix = uniquePrefix('cluster');
const K = keysFor(prefix);
let cluster: RedisCluster;
let env: Record<string, string>;
let api: { app: FastifyInstance; base: string };
let redis: Cluster;
const workers: WorkerProc[] = [];
let datasetId: string;
let data: DataSet;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  // The queue's keys share one slot ({…} in QUEUE_PREFIX); REDIS_URL is ignored once REDIS_CLUSTER_NODES is set.
  env = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: 'redis://127.0.0.1:1', KEY_PREFIX: prefix, QUEUE_PREFIX: `{${prefix.slice(0, -1)}}` };
  api = await startApi(prefix, env);
  redis = createRedisClient({ REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds }, { blocking: true }) as Cluster;
  await new Promise<void>((r) => (redis.status === 'ready' ? r() : redis.once('ready', () => r())));
}, 60_000);

afterAll(async () => {
  for (const w of workers) await stopWorker(w, 5000);
  await api?.app.close();
  redis?.disconnect();
  await cluster?.stop();
});

const json = { 'content-type': 'application/json' };

async function upload(rows: number[][], headers: Record<string, string> = {}): Promise<{ id: string; data: DataSet }> {
  const res = await fetch(`${api.base}/v1/datasets?target=label&name=moons`, { method: 'POST', headers: { 'content-type': 'text/csv', ...headers }, body: toCsv(['x', 'y', 'label'], rows) });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  const loaded = (await api.app.svc.datasets.load(id))!;
  return { id, data: { features: loaded.features, targets: loaded.targets, rows: rows.length, featureCount: 2, targetWidth: 1 } };
}

async function submit(epochs: number, base = api.base, ds = datasetId, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify({ datasetId: ds, ...longSpec(epochs) }) });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as Job).id;
}

/** Waits until job `id` runs and has a checkpoint. */
async function waitJobCheckpoint(id: string): Promise<void> {
  await waitJob(api.base, id, (j) => j.status === 'running' || isFinished(j));
  await waitCheckpoint(redis, K, id);
}

describe('the service on a 3-master Redis Cluster', () => {
  it('keys of one job share a slot, and the test data spreads over every master', async () => {
    const id = 'job_x';
    const slots = new Set([K.job(id), K.jobEvents(id), K.jobCheckpoint(id), K.jobModel(id), K.jobMetrics(id)].map(slotOf));
    expect(slots.size).toBe(1);
    expect(await masters(redis)).toHaveLength(3);
  });

  it('upload, submit, SSE with Last-Event-ID, completion with the uninterrupted weights', async () => {
    ({ id: datasetId, data } = await upload(moons(3000)));
    workers.push(await startWorker(env));
    const id = await submit(3);
    const first = await readSse(`${api.base}/v1/jobs/${id}/events`, { stopAfter: 3, timeoutMs: 60_000 });
    expect(first.status).toBe(200);
    const lastId = first.events[first.events.length - 1].id!;
    const rest = await readSse(`${api.base}/v1/jobs/${id}/events`, { lastEventId: lastId, timeoutMs: 60_000 });
    const ids = rest.events.filter((e) => e.id).map((e) => Number(e.id));
    expect(ids[0]).toBe(Number(lastId) + 1);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(rest.events.at(-1)?.event).toBe('completed');
    const job = await waitJob(api.base, id, isFinished);
    expect(job.status).toBe('completed');
    expect(job.result?.weightsHash).toBe(await referenceHash(longSpec(3), data));
    // The job leaves its dataset's active set (a second step on another slot).
    await waitForState(`no active job in ${K.datasetActiveJobs(datasetId)}`, () => redis.smembers(K.datasetActiveJobs(datasetId)), (ids) => ids.length === 0, { timeoutMs: 10_000 });
    expect((await fetch(`${api.base}/v1/jobs/${id}/metrics`)).status).toBe(200);
  }, 90_000);

  it('cancel: a queued job at once, a running one through pub/sub on the cluster; its dataset cannot be deleted meanwhile', async () => {
    const running = await submit(200);
    await waitJob(api.base, running, (j) => j.status === 'running');
    // The dataset's active-job set (its own slot) holds the running job: deleting is refused.
    expect((await fetch(`${api.base}/v1/datasets/${datasetId}`, { method: 'DELETE' })).status).toBe(409);
    const queued = await submit(200);
    const c1 = await fetch(`${api.base}/v1/jobs/${queued}/cancel`, { method: 'POST' });
    expect(c1.status).toBe(200);
    const c2 = await fetch(`${api.base}/v1/jobs/${running}/cancel`, { method: 'POST' });
    expect(c2.status).toBe(202);
    expect((await waitJob(api.base, running, isFinished, 30_000)).status).toBe('cancelled');
    // Leaving the dataset's active set is the step after the terminal state.
    await waitForState(`no active job in ${K.datasetActiveJobs(datasetId)}`, () => redis.smembers(K.datasetActiveJobs(datasetId)), (ids) => ids.length === 0, { timeoutMs: 10_000 });
  }, 60_000);

  it('kill -9 of the worker mid-job: another worker resumes from the checkpoint with the same weights hash', async () => {
    const EPOCHS = 6;
    const id = await submit(EPOCHS);
    await waitJobCheckpoint(id);
    await killWorker(workers.shift()!);
    workers.push(await startWorker(env));
    const job = await waitJob(api.base, id, isFinished, 90_000);
    expect(job.status).toBe('completed');
    expect(job.attempts).toBeGreaterThanOrEqual(2);
    expect(job.result?.weightsHash).toBe(await referenceHash(longSpec(EPOCHS), data));
  }, 120_000);

  it("a master killed (SIGKILL) and restarted mid-job (AOF on) loses no job: it completes with the same weights", async () => {
    const EPOCHS = 6;
    const id = await submit(EPOCHS);
    await waitJobCheckpoint(id);
    const node = await cluster.nodeOfSlot(slotOf(K.job(id)));
    await cluster.kill(node);
    await sleep(1500); // the outage itself: the master stays down 1.5 s
    await cluster.restart(node);
    const job = await waitJob(api.base, id, isFinished, 90_000);
    expect(job.status).toBe('completed');
    expect(job.result?.weightsHash).toBe(await referenceHash(longSpec(EPOCHS), data));
    // Everything written before the kill is still there: the dataset, the job's whole event stream.
    expect(await api.app.svc.datasets.get(datasetId)).not.toBeNull();
    const events = (await readJobEventsAfter(redis, K.jobEvents(id), 0)).map((e) => e.id);
    expect(events).toEqual(events.map((_, i) => i + 1));
  }, 150_000);

  it('tenant isolation: one tenant cannot see, list, cancel or use what another created', async () => {
    const other = await startApi(prefix, { ...env, API_KEYS: 'key-a-0123456789abcdef:a,key-b-0123456789abcdef:b' });
    try {
      const A = { authorization: 'Bearer key-a-0123456789abcdef' };
      const B = { authorization: 'Bearer key-b-0123456789abcdef' };
      const up = await fetch(`${other.base}/v1/datasets?target=label`, { method: 'POST', headers: { 'content-type': 'text/csv', ...A }, body: toCsv(['x', 'y', 'label'], moons(100)) });
      const ds = ((await up.json()) as { id: string }).id;
      const job = await submit(1, other.base, ds, A);
      expect((await fetch(`${other.base}/v1/jobs/${job}`, { headers: B })).status).toBe(404);
      expect((await fetch(`${other.base}/v1/datasets/${ds}`, { headers: B })).status).toBe(404);
      expect((await fetch(`${other.base}/v1/jobs/${job}/cancel`, { method: 'POST', headers: B })).status).toBe(404);
      const useOthers = await fetch(`${other.base}/v1/jobs`, { method: 'POST', headers: { ...json, ...B }, body: JSON.stringify({ datasetId: ds, ...longSpec(1) }) });
      expect(useOthers.status).toBe(404);
      const listB = (await (await fetch(`${other.base}/v1/jobs`, { headers: B })).json()) as { items: Job[] };
      expect(listB.items).toEqual([]);
      const listA = (await (await fetch(`${other.base}/v1/jobs`, { headers: A })).json()) as { items: Job[] };
      expect(listA.items.map((j) => j.id)).toEqual([job]);
      // (waitJob sends no API key: poll as tenant A)
      const jobOfA = async () => (await (await fetch(`${other.base}/v1/jobs/${job}`, { headers: A })).json()) as Job;
      await waitForState('the job of tenant A to finish', jobOfA, isFinished, { timeoutMs: 30_000 });
      const done = await jobOfA();
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
    } finally {
      await other.app.close();
    }
  }, 90_000);

  it('the event hub reads streams of many slots (one blocking XREAD per slot) and drops a slot\'s reader with its last follower', async () => {
    const hub = new EventHub(redis, { blockMs: 30_000 });
    try {
      const streams = Array.from({ length: 6 }, (_, i) => K.jobEvents(`job_hub${i}`));
      expect(new Set(streams.map(slotOf)).size).toBe(6);
      const got = new Map<string, number[]>(streams.map((s) => [s, []]));
      const followers = streams.map((s) => hub.follow(s, 0, (e) => got.get(s)!.push(e.id)));
      await Promise.all(followers.map((f) => f.ready));
      expect(hub.connectionCount).toBe(6);
      // Live events on every stream, while every reader blocks (only CLIENT UNBLOCK or data wakes them).
      for (let n = 1; n <= 3; n++) for (const s of streams) await redis.xadd(s, `${n}-0`, 'type', 'progress', 'data', '{}');
      await waitForState('3 events on every stream', () => [...got.values()].map((ids) => ids.length), (n) => n.every((k) => k === 3), { timeoutMs: 10_000 });
      expect([...got.values()]).toEqual(streams.map(() => [1, 2, 3]));
      followers.slice(0, 5).forEach((f) => f.close());
      await waitForState('the hub down to one connection', () => hub.connectionCount, (n) => n === 1, { timeoutMs: 10_000 });
      await redis.xadd(streams[5], '4-0', 'type', 'progress', 'data', '{}');
      await waitForState('a 4th event on the 6th stream', () => got.get(streams[5])!.length, (n) => n === 4, { timeoutMs: 10_000 });
    } finally {
      await hub.close();
    }
  });

  it('/metrics and Bull Board read the queue on the cluster', async () => {
    const metrics = await fetch(`${api.base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/trainer_queue_jobs\{state="waiting"\} \d+/);
    const board = await fetch(`${api.base}/admin/queues/api/queues`);
    expect(board.status).toBe(200);
    expect(JSON.stringify(await board.json())).toContain('training');
  });

  it('the sweeper walks every master: repairs a half-created job, drops ended jobs from a dataset, re-enqueues a lost one, expires and unlists', async () => {
    const jobs = new JobStore(redis, K, { retentionSeconds: 1 });
    // A crash right after the record: not in the tenant index, not in the dataset's set, not enqueued.
    const created = await Promise.all(Array.from({ length: 9 }, () => jobs.create('default', { datasetId, ...longSpec(1) } as never)));
    for (const j of created) await Promise.all([redis.zrem(K.jobIndex('default'), j.id), redis.srem(K.datasetActiveJobs(datasetId), j.id)]);
    // Their keys live on every master (SCAN through the cluster client alone would see one node).
    const nodesHolding = new Set(await Promise.all(created.map((j) => cluster.nodeOfSlot(slotOf(K.job(j.id))).then((n) => n.port))));
    expect(nodesHolding.size).toBe(3);
    // A crash between the end of a job and its removal from the dataset's set.
    const ended = created.pop()!;
    await jobs.finish(ended.id, ['queued'], 'cancelled');
    await redis.sadd(K.datasetActiveJobs(datasetId), ended.id);
    // One of them goes through the service's real repair (TrainingQueue.ensureQueued, as the
    // worker's sweep calls it): the running worker then trains it to the end.
    const real = created.pop()!;
    const enqueued: string[] = [];
    const r1 = await sweepKeys(redis, K, { ensureQueued: async (id) => (id === real.id ? api.app.svc.queue.ensureQueued(id) : (enqueued.push(id), true)), queuedGraceMs: 0 });
    expect(r1.repaired).toBeGreaterThanOrEqual((created.length + 1) * 2);
    expect(r1.requeued).toBe(created.length + 1);
    expect(enqueued.sort()).toEqual(created.map((j) => j.id).sort());
    expect(await api.app.svc.queue.ensureQueued(real.id)).toBe(false); // held by BullMQ now: no second add
    expect((await waitJob(api.base, real.id, isFinished, 60_000)).status).toBe('completed');
    for (const j of created) {
      expect(await redis.zscore(K.jobIndex('default'), j.id)).toBe('0');
      expect(await redis.sismember(K.datasetActiveJobs(datasetId), j.id)).toBe(1);
    }
    expect(await redis.sismember(K.datasetActiveJobs(datasetId), ended.id)).toBe(0);
    // Retention: finished jobs expire with all their keys; the next sweep unlists them.
    for (const j of created) await jobs.finish(j.id, ['queued'], 'cancelled');
    await waitForState('the finished jobs\' keys to expire (retention 1 s)', async () => (await Promise.all(created.map(async (j) => ((await redis.exists(K.job(j.id), K.jobEvents(j.id))) ? j.id : '')))).filter(Boolean), (left) => left.length === 0, { timeoutMs: 10_000 });
    const r2 = await sweepKeys(redis, K);
    expect(r2.removed).toBeGreaterThanOrEqual(created.length);
    for (const j of [...created, ended]) expect(await redis.zscore(K.jobIndex('default'), j.id)).toBeNull();
    expect(await redis.scard(K.datasetActiveJobs(datasetId))).toBe(0);
  }, 60_000);
});
