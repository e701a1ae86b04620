import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSet, EpochMetrics } from '../../src/core/types.js';
import type { Job } from '../../src/schemas/job.js';
import { readSse } from '../helpers/sse-client.js';
import { deletePrefix, uniquePrefix, prefixEnv } from '../helpers/redis.js';
import { waitForState } from '../helpers/wait.js';
import { isFinished, killWorker, longSpec, redisClient, referenceHash, sleep, startApi, startWorker, stopWorker, storeMoons, waitJob, type WorkerProc } from './harness.js';
import { keysFor } from '../../src/storage/keys.js';

/*
 * SIGKILL of a worker's whole process group (worker and trainer child) in the middle of an
 * epoch, ten times, with a restart after each. Every job must complete with the weights of an
 * uninterrupted run, its SSE stream must stay consistent, and /metrics must hold each epoch once.
 */
const prefix = uniquePrefix('kill');
const K = keysFor(prefix);
const env = prefixEnv(prefix);
const redis = redisClient();
let api: { app: FastifyInstance; base: string };
let worker: WorkerProc | undefined;
let datasetId: string;
let data: DataSet;
const EPOCHS = 12;

beforeAll(async () => {
  api = await startApi(prefix);
  ({ datasetId, data } = await storeMoons(api.app, 30_000));
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await api?.app.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

async function submit(): Promise<string> {
  const res = await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId, ...longSpec(EPOCHS) }) });
  expect(res.status).toBe(202);
  return ((await res.json()) as Job).id;
}

describe('kill -9 of a worker mid-epoch, ten times', () => {
  it('every job completes with the uninterrupted weights; SSE ids increase; /metrics has each epoch once', async () => {
    const reference = await referenceHash(longSpec(EPOCHS), data);
    const KILLS = 10;
    let kills = 0;
    const recoveryMs: number[] = [];
    const resumedFrom: { epoch: number; step: number }[] = [];
    // Resumes from a checkpoint in the blob store (all of them with BLOB_INLINE_MAX_BYTES=0; this net is below the default threshold).
    let checkpointBlobs = 0;
    worker = await startWorker(env);
    const jobs: { id: string; sse: ReturnType<typeof readSse> }[] = [];
    while (kills < KILLS) {
      const id = await submit();
      const sse = readSse(`${api.base}/v1/jobs/${id}/events`, { timeoutMs: 170_000 });
      jobs.push({ id, sse });
      for (;;) {
        // Wait until the current attempt has written a checkpoint, then kill at a random moment after it.
        const attempt = (await waitJob(api.base, id, (j) => j.status === 'running' || isFinished(j))).attempts;
        const seen = await waitForState(
          `job ${id}: a checkpoint of attempt ${attempt}, or the end`,
          async () => {
            const [ckAttempt, status] = await Promise.all([redis.hget(K.jobCheckpoint(id), 'attempt'), redis.hget(K.job(id), 'status')]);
            return { ckAttempt, status };
          },
          ({ ckAttempt, status }) => (status === 'running' ? Number(ckAttempt) === attempt : status !== 'queued'),
          { timeoutMs: 60_000, intervalMs: 10 },
        );
        if (seen.status !== 'running') break; // finished
        await sleep(Math.random() * 120); // the point: kill at a random moment after the checkpoint
        if ((await redis.hget(K.job(id), 'status')) !== 'running') continue;
        await killWorker(worker);
        kills++;
        const t0 = performance.now();
        worker = await startWorker(env);
        const resumed = await waitJob(api.base, id, (j) => (j.status === 'running' && j.attempts > attempt) || isFinished(j), 60_000);
        if (resumed.status === 'running') recoveryMs.push(performance.now() - t0);
        const ck = await redis.hmget(K.jobCheckpoint(id), 'epoch', 'step', 'blob');
        resumedFrom.push({ epoch: Number(ck[0]), step: Number(ck[1]) });
        if (ck[2]) checkpointBlobs++;
        if (kills >= KILLS) break;
      }
    }
    for (const { id, sse } of jobs) {
      const job = await waitJob(api.base, id, isFinished, 120_000);
      expect(job.status, JSON.stringify(job.error)).toBe('completed');
      expect(job.result!.weightsHash).toBe(reference);
      const read = await sse;
      const ids = read.events.map((e) => Number(e.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1] + 1);
      const terminal = read.events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event ?? ''));
      expect(terminal.map((e) => e.event)).toEqual(['completed']);
      expect(read.events.at(-1)!.event).toBe('completed');
      expect(read.closedByServer).toBe(true);
      const statuses = read.events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data) as { status: string; attempt?: number; resumed?: boolean });
      const running = statuses.filter((s) => s.status === 'running');
      expect(running.map((s) => s.attempt)).toEqual(running.map((_, i) => i + 1));
      expect(running.slice(1).every((s) => s.resumed === true)).toBe(true);
      expect(job.attempts).toBe(running.length);
      // Each epoch's end event once, in order (written atomically with the epoch's checkpoint).
      const epochEnds = read.events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as { kind: string; epoch: number }).filter((p) => p.kind === 'epoch');
      expect(new Set(epochEnds.map((p) => p.epoch)).size).toBe(epochEnds.length);
      const metrics = ((await (await fetch(`${api.base}/v1/jobs/${id}/metrics`)).json()) as { history: EpochMetrics[] }).history;
      expect(metrics.map((m) => m.epoch)).toEqual([...Array(EPOCHS).keys()]);
      // A completed job keeps no checkpoint.
      expect(await redis.exists(K.jobCheckpoint(id))).toBe(0);
    }
    expect(kills).toBe(KILLS);
    if (process.env.BLOB_INLINE_MAX_BYTES === '0') expect(checkpointBlobs).toBeGreaterThan(0);
    expect(resumedFrom.some((r) => r.step > 0)).toBe(true); // at least one resume from the middle of an epoch
    const sorted = [...recoveryMs].sort((a, b) => a - b);
    console.log(`kill -9 x${kills} over ${jobs.length} job(s); resume after kill (incl. worker start) median ${Math.round(sorted[sorted.length >> 1])} ms, max ${Math.round(sorted.at(-1)!)} ms; resumed from ${JSON.stringify(resumedFrom)}; ${checkpointBlobs} from a blob-store checkpoint`);
  }, 180_000);
});
