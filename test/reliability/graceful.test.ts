import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSet } from '../../src/core/types.js';
import type { Job } from '../../src/schemas/job.js';
import { readSse } from '../helpers/sse-client.js';
import { deletePrefix, uniquePrefix, prefixEnv } from '../helpers/redis.js';
import { isFinished, longSpec, redisClient, referenceHash, startApi, startWorker, stopWorker, storeMoons, waitCheckpoint, waitJob, type WorkerProc } from './harness.js';
import { keysFor } from '../../src/storage/keys.js';
import { withDeadline } from '../helpers/wait.js';

/*
 * SIGTERM to a worker while two jobs run on two workers: the terminated worker checkpoints its
 * job, hands it back to the wait list (no attempt of the retry budget used) and exits; an idle
 * worker resumes the job at once. Both jobs complete with the uninterrupted weights.
 */
const prefix = uniquePrefix('term');
const K = keysFor(prefix);
const env = prefixEnv(prefix);
const redis = redisClient();
let api: { app: FastifyInstance; base: string };
const workers: WorkerProc[] = [];
let datasetId: string;
let data: DataSet;
const EPOCHS = 25;

beforeAll(async () => {
  api = await startApi(prefix);
  ({ datasetId, data } = await storeMoons(api.app, 20_000));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w)));
  await api?.app.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('graceful worker shutdown', () => {
  it('SIGTERM hands the running job back with a checkpoint; both jobs complete, attempts not exhausted', async () => {
    const reference = await referenceHash(longSpec(EPOCHS), data);
    // Lock 30 s: a job recovered as stalled would take that long, a handed-back one does not wait for it.
    const slowStall = { ...env, WORKER_LOCK_DURATION_MS: '30000', WORKER_STALLED_INTERVAL_MS: '30000', JOB_ATTEMPTS: '1' };
    const [a, b] = await Promise.all([startWorker(slowStall), startWorker(slowStall)]);
    workers.push(a, b);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId, ...longSpec(EPOCHS) }) });
      ids.push(((await res.json()) as Job).id);
    }
    const streams = ids.map((id) => readSse(`${api.base}/v1/jobs/${id}/events`, { timeoutMs: 120_000 }));
    await Promise.all(ids.map((id) => waitJob(api.base, id, (j) => j.status === 'running')));
    // Which job does worker A hold? Its trainer logs nothing yet, so find it by elimination after a checkpoint exists.
    await waitCheckpoint(redis, K, ids);
    const c = await startWorker(slowStall); // idle, ready to take the handed-back job
    workers.push(c);
    const t0 = performance.now();
    a.child.kill('SIGTERM');
    const exit = await withDeadline('worker A to exit after SIGTERM (hand-back)', a.exited, 60_000, () => a.output().slice(-2000));
    const exitMs = performance.now() - t0;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(a.output()).toContain('job checkpointed and handed back');
    const handed = ids.find((id) => a.output().includes(id))!;
    expect(handed).toBeDefined();
    const resumed = await waitJob(api.base, handed, (j) => (j.status === 'running' && j.attempts === 2) || isFinished(j), 60_000);
    const resumeMs = performance.now() - t0;
    expect(resumed.status === 'running' || resumed.status === 'completed').toBe(true);
    for (const [i, id] of ids.entries()) {
      const job = await waitJob(api.base, id, isFinished, 90_000);
      expect(job.status, JSON.stringify(job.error)).toBe('completed');
      expect(job.result!.weightsHash).toBe(reference);
      const events = (await streams[i]).events;
      expect(events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event!)).length).toBe(1);
      const statuses = events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data) as Record<string, unknown>);
      if (id === handed) {
        expect(job.attempts).toBe(2);
        const back = statuses.find((s) => s.handback === true)!;
        expect(back).toMatchObject({ status: 'queued' });
        const again = statuses.filter((s) => s.status === 'running')[1];
        expect(again).toMatchObject({ attempt: 2, resumed: true });
        expect((again.fromEpoch as number) + (again.fromStep as number)).toBeGreaterThan(0);
        // No retry was used (JOB_ATTEMPTS=1 would have failed it otherwise) and no stall recovery happened.
        expect(statuses.some((s) => s.retry === true)).toBe(false);
      } else expect(job.attempts).toBe(1);
    }
    for (const w of workers) expect(w.output()).not.toContain('job stalled');
    console.log(`SIGTERM: worker exited in ${Math.round(exitMs)} ms; handed-back job running again ${Math.round(resumeMs)} ms after the signal`);
  }, 150_000);
});
