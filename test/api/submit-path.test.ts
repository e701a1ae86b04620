import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { problem } from '../helpers/app.js';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { JobSchema } from '../../src/schemas/job.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('submitpath', { WEBHOOK_ALLOW_PRIVATE: 'true' });
});
afterAll(async () => t.close());

describe('job creation in one MULTI', () => {
  it('returns exactly what reading the record back gives, with the first status event as id 1 and later events after it', async () => {
    const { svc } = t.app;
    const created = await svc.jobs.create('default', { ...moonsSpec('ds_x'), maxDurationSeconds: 60 } as never);
    expect(await svc.jobs.get(created.id)).toEqual(created);
    expect(created).toMatchObject({ status: 'queued', attempts: 0, progress: null, datasetId: 'ds_x' });
    expect(await svc.jobs.appendEvent(created.id, 'progress', { step: 0 })).toBe(2);
    const events = await readJobEventsAfter(svc.redis, svc.keys.jobEvents(created.id), 0);
    expect(events.map((e) => [e.id, e.type, JSON.parse(e.data)])).toEqual([
      [1, 'status', { status: 'queued' }],
      [2, 'progress', { step: 0 }],
    ]);
    expect(await svc.redis.zscore(svc.keys.jobIndex('default'), created.id)).toBe('0');
    expect(await svc.redis.sismember(svc.keys.datasetActiveJobs('ds_x'), created.id)).toBe(1);
  });
});

describe('POST /v1/jobs on one Redis (one script: reservation, record, first event, sets)', () => {
  let dsId: string;
  const submit = (payload: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url: '/v1/jobs', payload, headers });
  beforeAll(async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets?target=label', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(40)) });
    dsId = res.json().id;
  });

  it('answers byte for byte what JobSchema serializer gives, and writes the same keys as the step-by-step create', async () => {
    const { svc } = t.app;
    for (const body of [
      moonsSpec(dsId),
      { ...moonsSpec(dsId, 3), maxDurationSeconds: 30, webhook: { url: 'http://127.0.0.1:9/hook', events: ['completed'] } },
      { ...moonsSpec(dsId, 2), loss: 'mse', model: { layers: [{ units: 1, activation: 'linear' }] }, optimizer: { type: 'momentum', learningRate: 0.1, momentum: 0.9 }, validationSplit: 0.2 },
    ]) {
      const res = await submit(body);
      expect(res.statusCode, res.body).toBe(202);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const job = res.json();
      expect(res.body).toBe(serializerCompiler({ schema: JobSchema, method: 'POST', url: '/v1/jobs' })(job));
      expect(await svc.jobs.get(job.id, 'default')).toEqual(job);
      expect(await svc.redis.zscore(svc.keys.jobIndex('default'), job.id)).toBe('0');
      expect(await svc.redis.zscore(svc.keys.activeJobs('default'), job.id)).not.toBeNull();
      expect(await svc.redis.sismember(svc.keys.datasetActiveJobs(dsId), job.id)).toBe(1);
      expect((await readJobEventsAfter(svc.redis, svc.keys.jobEvents(job.id), 0)).map((e) => [e.id, e.type])).toEqual([[1, 'status']]);
      expect(await svc.queue.queue.getJobState(job.id)).toBe('waiting');
    }
  });

  it('a dataset deleted after this process cached it → 404 naming datasetId, nothing written (valid spec or not), and the Idempotency-Key stays free', async () => {
    const { svc } = t.app;
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets?target=label', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(20)) });
    const gone = res.json().id as string;
    const first = await submit(moonsSpec(gone, 2));
    expect(first.statusCode).toBe(202);
    await t.app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel` });
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${gone}` })).statusCode).toBe(204);
    const before = await svc.redis.zcard(svc.keys.jobIndex('default'));
    for (const body of [moonsSpec(gone, 2), { ...moonsSpec(gone, 2), model: { layers: [{ units: 3, activation: 'softmax' }] } }]) {
      const p = problem(await submit(body, { 'idempotency-key': 'gone-dataset-key' }));
      expect([p.status, p.code, p.errors?.[0].path]).toEqual([404, 'dataset_not_found', 'datasetId']);
    }
    expect(await svc.redis.zcard(svc.keys.jobIndex('default'))).toBe(before);
    expect(await svc.redis.exists(svc.keys.idempotency('default', 'jobs', 'gone-dataset-key'))).toBe(0);
  });
});

describe('POST /v1/jobs: what the one-write path (record script + BullMQ add) leaves when the script creates nothing', () => {
  it('at the cap (429) and for a deleted dataset (404) no BullMQ job is left waiting; a freed place is taken under a new id', async () => {
    const c = await testApp('submitcap', { MAX_ACTIVE_JOBS_PER_TENANT: '2' });
    try {
      const up = async () => (await c.app.inject({ method: 'POST', url: '/v1/datasets?target=label', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(20)) })).json().id as string;
      const dsId = await up();
      const submit = (payload: object) => c.app.inject({ method: 'POST', url: '/v1/jobs', payload });
      const q = c.app.svc.queue.queue;
      const a = await submit(moonsSpec(dsId, 2));
      const b = await submit(moonsSpec(dsId, 2));
      expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
      const refused = problem(await submit(moonsSpec(dsId, 2)));
      expect([refused.status, refused.code]).toEqual([429, 'too_many_active_jobs']);
      expect((await q.getWaiting()).map((j) => j.id).sort()).toEqual([a.json().id, b.json().id].sort());
      // A job that ended keeps its place until a submit at the cap drops it (the step-by-step path).
      await c.app.svc.jobs.finish(a.json().id, ['queued'], 'cancelled', { error: { code: 'cancelled', message: 'test' } });
      await c.app.svc.queue.removeWaiting(a.json().id);
      const d = await submit(moonsSpec(dsId, 2));
      expect(d.statusCode, d.body).toBe(202);
      expect(await c.app.svc.jobs.get(d.json().id)).toMatchObject({ status: 'queued' });
      expect((await q.getWaiting()).map((j) => j.id).sort()).toEqual([b.json().id, d.json().id].sort());
      // A dataset deleted under a cached entry: 404, and nothing waiting for it.
      await c.app.svc.jobs.finish(b.json().id, ['queued'], 'cancelled', { error: { code: 'cancelled', message: 'test' } });
      await c.app.svc.queue.removeWaiting(b.json().id);
      const other = await up();
      const e = await submit(moonsSpec(other, 2));
      expect(e.statusCode).toBe(202);
      await c.app.svc.jobs.finish(e.json().id, ['queued'], 'cancelled', { error: { code: 'cancelled', message: 'test' } });
      await c.app.svc.queue.removeWaiting(e.json().id);
      expect((await c.app.inject({ method: 'DELETE', url: `/v1/datasets/${other}` })).statusCode).toBe(204);
      expect(problem(await submit(moonsSpec(other, 2))).status).toBe(404);
      expect((await q.getWaiting()).map((j) => j.id)).toEqual([d.json().id]);
    } finally {
      await c.close();
    }
  });
});
