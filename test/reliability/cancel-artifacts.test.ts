import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSet, EpochMetrics } from '../../src/core/types.js';
import type { Job } from '../../src/schemas/job.js';
import { deletePrefix, uniquePrefix, prefixEnv } from '../helpers/redis.js';
import { waitForState } from '../helpers/wait.js';
import { isFinished, longSpec, redisClient, referenceHash, startApi, startWorker, stopWorker, storeMoons, waitJob, type WorkerProc } from './harness.js';
import { keysFor } from '../../src/storage/keys.js';

/* /metrics of a running job, and what a cancelled job keeps (model, metrics, predict). */
const prefix = uniquePrefix('cancel-art');
const K = keysFor(prefix);
const env = prefixEnv(prefix);
const redis = redisClient();
let api: { app: FastifyInstance; base: string };
let worker: WorkerProc;
let datasetId: string;
let data: DataSet;

beforeAll(async () => {
  api = await startApi(prefix, env);
  worker = await startWorker(env);
  ({ datasetId, data } = await storeMoons(api.app, 4000));
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await api?.app.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

const submit = async (body: object) =>
  ((await (await fetch(`${api.base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId, ...body }) })).json()) as Job).id;
const metrics = async (id: string) => (await (await fetch(`${api.base}/v1/jobs/${id}/metrics`)).json()) as { jobId: string; complete: boolean; history: EpochMetrics[] };
const cancel = (id: string) => fetch(`${api.base}/v1/jobs/${id}/cancel`, { method: 'POST' });
const epochs = (h: EpochMetrics[]) => h.map((m) => m.epoch);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('cancelled jobs keep their artifacts', () => {
  it('running: /metrics grows epoch by epoch (each once, a prefix of the final history); cancelled: model of the last finished epoch, metrics and predict kept; queued-cancelled: 409 no model', async () => {
    const running = await submit(longSpec(500));
    // One worker with concurrency 1: this one waits in the queue behind the running job.
    const queued = await submit(longSpec(3));
    await waitJob(api.base, running, (j) => j.status === 'running');

    expect((await cancel(queued)).status).toBe(200);
    const q = await waitJob(api.base, queued, isFinished);
    expect(q.status).toBe('cancelled');
    expect(q.result).toBeUndefined();
    for (const path of ['model', 'predict']) {
      const res = await fetch(`${api.base}/v1/jobs/${queued}/${path}`, path === 'predict' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [[0, 0]] }) } : {});
      expect(res.status).toBe(409);
      expect(((await res.json()) as { detail: string }).detail).toContain('cancelled before training started: no model');
    }
    expect(await metrics(queued)).toEqual({ jobId: queued, complete: true, history: [] });

    const snapshots: EpochMetrics[][] = [];
    const snapshot = async () => {
      const m = await metrics(running);
      expect(m.complete).toBe(false);
      expect(epochs(m.history)).toEqual(range(m.history.length));
      if (snapshots.length) expect(m.history.length).toBeGreaterThanOrEqual(snapshots.at(-1)!.length);
      snapshots.push(m.history);
      return m.history.length;
    };
    await waitForState(`3 finished epochs in /v1/jobs/${running}/metrics`, snapshot, (n) => n >= 3, { timeoutMs: 60_000, intervalMs: 20 });
    expect(new Set(snapshots.map((s) => s.length)).size).toBeGreaterThan(1);
    expect((await cancel(running)).status).toBe(202);
    const job = await waitJob(api.base, running, isFinished, 60_000);
    expect(job.status).toBe('cancelled');
    expect(job.error!.code).toBe('cancelled');

    const final = await metrics(running);
    expect(final.complete).toBe(true);
    const n = final.history.length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThan(500);
    expect(epochs(final.history)).toEqual(range(n));
    for (const s of snapshots) expect(final.history.slice(0, s.length)).toEqual(s);

    const modelRes = await fetch(`${api.base}/v1/jobs/${running}/model`);
    expect(modelRes.status).toBe(200);
    const model = (await modelRes.json()) as { weightsHash: string };
    // The model after epoch n is what an uninterrupted run of n epochs ends with.
    expect(model.weightsHash).toBe(await referenceHash(longSpec(n), data));
    expect(job.result).toMatchObject({ epochsRun: n, weightsHash: model.weightsHash, loss: final.history[n - 1].loss, stoppedEarly: false });
    expect(job.error!.message).toContain(model.weightsHash);
    // Progress and result agree (the throttled progress lagged the kept model), epochs counted from 0.
    expect(job.progress).toMatchObject({ epoch: n - 1, loss: final.history[n - 1].loss });
    expect(job.error!.message).toMatch(new RegExp(`; the model after epoch ${n - 1} \\(${n} epochs finished, weightsHash ${model.weightsHash}\\) and its metrics are kept$`));

    const pred = await fetch(`${api.base}/v1/jobs/${running}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [[0, 0.5], [1.5, -0.3]] }) });
    expect(pred.status).toBe(200);
    const { predictions, probabilities } = (await pred.json()) as { predictions: number[]; probabilities: number[][] };
    expect(predictions).toHaveLength(2);
    for (const p of probabilities) expect(p[0] + p[1]).toBeCloseTo(1, 12);

    // Model and metrics got the retention TTL with the record; no checkpoint is left.
    for (const k of [K.job(running), K.jobEvents(running), K.jobModel(running), K.jobMetrics(running)]) expect(await redis.ttl(k)).toBeGreaterThan(0);
    expect(await redis.exists(K.jobCheckpoint(running))).toBe(0);
  }, 120_000);
});
