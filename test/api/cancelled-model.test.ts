import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { problem, testApp } from '../helpers/app.js';
import { moonsSpec } from '../helpers/data.js';

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
