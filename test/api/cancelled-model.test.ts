import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { train, type Checkpoint, type TrainingSpec } from '../../src/core/index.js';
import { CheckpointStore } from '../../src/storage/checkpoint-store.js';

// The 409 of a cancelled job without a model says why; a job cancelled while queued to resume
// (handed back by a stopping worker, or waiting out a retry) had finished epochs that are not kept.
let app: FastifyInstance;
let close: () => Promise<void>;
beforeAll(async () => ({ app, close } = await testApp('cxl-model')));
afterAll(() => close());

async function cancelledJob(record: Record<string, string>): Promise<string> {
  const ds = await app.svc.datasets.create({ tenant: 'default', name: 'm', rows: 2, featureCount: 2, targetWidth: 1, features: Float64Array.of(0, 1, 1, 0), targets: Float64Array.of(0, 1) });
  const job = await app.svc.jobs.create('default', moonsSpec(ds.id, 10));
  if (Object.keys(record).length) await app.svc.redis.hset(app.svc.keys.job(job.id), record);
  await app.svc.jobs.finish(job.id, ['queued'], 'cancelled', { error: { code: 'cancelled', message: 'cancelled by request' } });
  return job.id;
}
async function modelDetail(id: string): Promise<string> {
  const res = await app.inject({ method: 'GET', url: `/v1/jobs/${id}/model` });
  expect(res.statusCode).toBe(409);
  return problem(res).detail!;
}
const progress = (epoch: number, step: number) => JSON.stringify({ epoch, epochs: 10, step, stepsPerEpoch: 4, loss: 0.5 });

describe('GET /model of a cancelled job without a model', () => {
  it('never started', async () => {
    expect(await modelDetail(await cancelledJob({}))).toMatch(/cancelled before training started: no model/);
  });
  it('started, no epoch finished', async () => {
    expect(await modelDetail(await cancelledJob({ startedAt: new Date().toISOString(), progress: progress(0, 2) }))).toMatch(/before its first epoch finished/);
  });
  it('queued to resume with finished epochs: says how many and that they were not kept', async () => {
    const a = await modelDetail(await cancelledJob({ startedAt: new Date().toISOString(), progress: progress(2, 4) }));
    expect(a).toMatch(/cancelled while queued to resume .* with 3 finished epoch\(s\); their model was not kept/);
    const b = await modelDetail(await cancelledJob({ startedAt: new Date().toISOString(), progress: progress(2, 1) }));
    expect(b).toMatch(/with 2 finished epoch\(s\)/);
  });
});

describe('a job cancelled while queued to resume keeps the model of its last finished epoch', () => {
  it('from the epoch end kept beside a mid-epoch hand-back checkpoint: result, progress and model agree, epochs counted from 0', async () => {
    const rows = moons(120);
    const ds = await app.svc.datasets.create({ tenant: 'default', name: 'm', rows: rows.length, featureCount: 2, targetWidth: 1, features: Float64Array.from(rows.flatMap((r) => r.slice(0, 2))), targets: Float64Array.from(rows.map((r) => r[2])) });
    const body = moonsSpec(ds.id, 10);
    const { datasetId: _d, ...spec } = body;
    const data = { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) };
    // what a worker did: ran epochs 0-2 (each end kept), was stopped inside epoch 3 and handed the job back
    const job = await app.svc.jobs.create('default', body);
    await app.svc.jobs.transition(job.id, ['queued'], { status: 'running', startedAt: new Date().toISOString() }, { incrementAttempts: true });
    const store = new CheckpointStore(app.svc.redis, app.svc.keys);
    let mid: Checkpoint | undefined;
    const ends: Checkpoint[] = [];
    await train({ ...(spec as TrainingSpec), epochs: 4 }, data, {
      checkpointEveryMs: 0,
      onCheckpoint: (c) => {
        if (c.step === 0) ends.push(structuredClone(c));
        else if (c.epoch === 3 && !mid) mid = structuredClone(c);
      },
    });
    await store.keep(job.id, ends[2], 3, 3600);
    await store.write(job.id, 1, { checkpoint: mid!, status: 'queued', event: { type: 'status', data: { status: 'queued', handback: true, reason: 'test' } } });
    expect((await app.svc.jobs.get(job.id))!.status).toBe('queued');

    const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
    expect(res.statusCode, res.body).toBe(200);
    const after3 = await train({ ...(spec as TrainingSpec), epochs: 3 }, data);
    const j = res.json();
    expect(j.status).toBe('cancelled');
    expect(j.result).toMatchObject({ epochsRun: 3, weightsHash: after3.weightsHash, loss: after3.loss });
    expect(j.progress).toMatchObject({ epoch: 2, epochs: 10, loss: after3.loss });
    expect(j.error.message).toBe(`cancelled by request while queued to resume; the model after epoch 2 (3 epochs finished, weightsHash ${after3.weightsHash}) and its metrics are kept`);
    const model = await app.inject({ url: `/v1/jobs/${job.id}/model` });
    expect(model.statusCode).toBe(200);
    expect(model.json().weightsHash).toBe(after3.weightsHash);
    const metrics = (await app.inject({ url: `/v1/jobs/${job.id}/metrics` })).json();
    expect((Array.isArray(metrics) ? metrics : metrics.items ?? metrics.history).map((m: { epoch: number }) => m.epoch)).toEqual([0, 1, 2]);
  });
});

