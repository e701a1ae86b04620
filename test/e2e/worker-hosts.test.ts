import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/schemas/job.js';
import { keysFor } from '../../src/storage/keys.js';
import { freePort } from '../helpers/net.js';
import { makeHosts, namespacesUnavailable, type NetnsHost } from '../helpers/netns.js';
import { uniquePrefix, prefixEnv } from '../helpers/redis.js';
import {
  isFinished,
  killWorker,
  longSpec,
  privateRedis,
  redisClient,
  referenceHash,
  startApi,
  startWorker,
  storeMoons,
  waitJob,
  type WorkerProc,
} from '../reliability/harness.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Worker hosts that come and go: two network namespaces, each running a worker process against
 * Redis on this machine's side of its link. Cutting the link of the host that trains a job makes
 * the job resume on the other host from its last checkpoint, with the uninterrupted run's
 * weights; when the link comes back, the cut-off worker writes nothing (its attempt is fenced).
 */
const unavailable = namespacesUnavailable();
if (unavailable) console.warn(`worker-hosts test skipped: ${unavailable}`);

const prefix = uniquePrefix('hosts');
const keys = keysFor(prefix);
const redisDir = mkdtempSync(join(tmpdir(), 'tsnn-hosts-redis-'));
let hosts: NetnsHost[] = [];
let redisServer: Awaited<ReturnType<typeof privateRedis>> | undefined;
let redis: Redis | undefined;
let api: { app: FastifyInstance; base: string } | undefined;
const workers: WorkerProc[] = [];

afterAll(async () => {
  for (const w of workers) await killWorker(w);
  for (const h of hosts) h.remove();
  await api?.app.close();
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(redisDir, { recursive: true, force: true });
});

const workersOutput = () => `workers said:\n${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`;

/** What a stale write would change: the job record, its event count, model and metrics. */
async function snapshot(r: Redis, id: string): Promise<string> {
  const [job, events, model, metrics] = await Promise.all([r.hgetall(keys.job(id)), r.xlen(keys.jobEvents(id)), r.getBuffer(keys.jobModel(id)), r.getBuffer(keys.jobMetrics(id))]);
  const digest = (b: Buffer | null) => (b ? createHash('sha256').update(b).digest('hex') : 'none');
  return JSON.stringify({ job, events, model: digest(model), metrics: digest(metrics) });
}

describe.skipIf(unavailable !== null)('worker hosts in network namespaces', () => {
  it('a host cut off mid-job: the job resumes on another host with the same weights; the cut-off worker writes nothing when it comes back', async () => {
    hosts = makeHosts(2);
    const [h1, h2] = hosts as [NetnsHost, NetnsHost];
    const port = await freePort();
    // Redis listens on loopback (the API, the assertions) and on this machine's end of each link.
    redisServer = await privateRedis(port, redisDir, ['--bind', '127.0.0.1', h1.hostAddr, h2.hostAddr, '--protected-mode', 'no']);
    redis = redisClient(redisServer.url);
    api = await startApi(prefix, { REDIS_URL: redisServer.url });
    const { datasetId, data } = await storeMoons(api.app, 20_000);
    // Long enough (seconds, even on the native kernels) to outlast the cut, the lock lapse and the resume.
    const spec = longSpec(40);
    const reference = await referenceHash(spec, data);

    const env = (h: NetnsHost) => ({ ...prefixEnv(prefix), REDIS_URL: `redis://${h.hostAddr}:${port}` });
    // Both hosts up before the job exists: whichever takes it is cut off while the other stands by.
    for (const h of hosts) workers.push(await startWorker(env(h), { netns: h.name }));
    const res = await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId, ...spec }) });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as Job).id;
    const first = await waitJob(api.base, id, (j) => j.status === 'running' || isFinished(j));
    expect(first.status).toBe('running');
    await waitFor('a checkpoint of the first attempt', async () => Number(await redis!.hget(keys.jobCheckpoint(id), 'attempt')) === first.attempts, { timeoutMs: 30_000, context: workersOutput });
    // The holder is the host whose worker has a trainer child (no other job ran there).
    const held = (await waitFor('the host holding the job', () => [1, 2].find((n) => childPids(workers[n - 1]!.child.pid!).length > 0), { timeoutMs: 30_000, context: workersOutput })) - 1;
    const [cutHost, cutWorker, otherWorker] = [hosts[held]!, workers[held]!, workers[1 - held]!];
    cutHost.cut();
    const resumed = await waitJob(api.base, id, (j) => (j.status === 'running' && j.attempts > first.attempts) || isFinished(j), 60_000);
    expect(resumed.status).toBe('running');
    const done = await waitJob(api.base, id, isFinished, 120_000);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.result!.weightsHash).toBe(reference);
    expect(otherWorker.output()).toMatch(/job resumed from checkpoint/);

    // The cut host comes back: its trainer's pending write meets the fence and the attempt stops.
    const before = await snapshot(redis, id);
    cutHost.restore();
    await waitFor('the cut host to find its attempt fenced', () => /job taken over by another attempt; this one stops/.test(cutWorker.output()), { timeoutMs: 120_000, context: workersOutput });
    expect(await snapshot(redis, id)).toBe(before);
    const after = (await (await fetch(`${api.base}/v1/jobs/${id}`)).json()) as Job;
    expect(after.status).toBe('completed');
    expect(after.result!.weightsHash).toBe(reference);
  }, 300_000);
});

/** Child pids of `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
