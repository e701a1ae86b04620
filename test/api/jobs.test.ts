import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { problem, testApp } from '../helpers/app.js';
import { parseSse } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { duplicateClient } from '../../src/queue/connection.js';

let t: Awaited<ReturnType<typeof testApp>>;
let dsId: string;
beforeAll(async () => {
  t = await testApp('jobs');
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets?target=label', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(60)) });
  dsId = res.json().id;
});
afterAll(async () => t.close());

const submit = (payload: object, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url: '/v1/jobs', payload, headers });

describe('POST /v1/jobs', () => {
  it('→ 202 with Location, a queued job, a queued BullMQ job and a first status event', async () => {
    const res = await submit(moonsSpec(dsId));
    expect(res.statusCode).toBe(202);
    const job = res.json();
    expect(res.headers.location).toBe(`/v1/jobs/${job.id}`);
    expect(job).toMatchObject({ status: 'queued', datasetId: dsId, attempts: 0, progress: null });
    expect(job.spec.datasetId).toBeUndefined();
    expect(job.spec.optimizer).toEqual({ type: 'adam', learningRate: 0.01 });
    expect(await t.app.svc.queue.queue.getJobState(job.id)).toBe('waiting');
  });

  it.each([
    ['learningRate ≤ 0', { optimizer: { type: 'adam', learningRate: -1 } }, 'optimizer.learningRate'],
    ['an unknown optimizer', { optimizer: { type: 'adagrad' } }, 'optimizer.type'],
    ['an unknown spec field', { epoch: 3 }, 'epoch'],
    ['an unknown optimizer field', { optimizer: { type: 'sgd', lr: 0.1 } }, 'optimizer.lr'],
    ['batchSize 0', { batchSize: 0 }, 'batchSize'],
    ['beta1 = 1', { optimizer: { type: 'adam', beta1: 1 } }, 'optimizer.beta1'],
    ['fractional units', { model: { layers: [{ units: 2.5, activation: 'softmax' }] } }, 'model.layers.0.units'],
  ])('%s → 400 naming %s', async (_n, patch, path) => {
    const p = problem(await submit({ ...moonsSpec(dsId), ...patch }));
    expect(p.status).toBe(400);
    expect(p.errors?.map((e) => e.path)).toContain(path);
    expect(p.errors?.[0].in).toBe('body');
  });

  it.each([
    ['output units ≠ classes', { model: { layers: [{ units: 3, activation: 'softmax' }] } }, 'model.layers.0.units', /has 2 classes/],
    ['softmax_cross_entropy without softmax', { model: { layers: [{ units: 2, activation: 'sigmoid' }] } }, 'model.layers.0.activation', /needs a softmax/],
    ['softmax on a hidden layer', { model: { layers: [{ units: 4, activation: 'softmax' }, { units: 2, activation: 'softmax' }] } }, 'model.layers.0.activation', /output layer only/],
    ['mse with a softmax output', { loss: 'mse', model: { layers: [{ units: 1, activation: 'softmax' }] } }, 'model.layers.0.activation', /softmax_cross_entropy/],
  ])('a spec that does not fit the dataset (%s) → 400 naming %s', async (_n, patch, path, msg) => {
    const p = problem(await submit({ ...moonsSpec(dsId), ...patch }));
    expect(p.errors?.[0].path).toBe(path);
    expect(p.detail).toMatch(msg);
  });

  it('an unknown dataset → 404 naming datasetId', async () => {
    const p = problem(await submit(moonsSpec('ds_nope')));
    expect(p.status).toBe(404);
    expect(p.errors?.[0].path).toBe('datasetId');
  });

  it('Idempotency-Key: same body → same job (one record), different body → 422', async () => {
    const key = 'k-' + Math.random();
    const a = await submit(moonsSpec(dsId, 7), { 'idempotency-key': key });
    const b = await submit(moonsSpec(dsId, 7), { 'idempotency-key': key });
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(b.json().id).toBe(a.json().id);
    expect(b.headers['idempotent-replayed']).toBe('true');
    // Key order does not matter: the body hash is canonical.
    const reordered = Object.fromEntries(Object.entries(moonsSpec(dsId, 7)).reverse());
    expect((await submit(reordered, { 'idempotency-key': key })).json().id).toBe(a.json().id);
    const c = await submit(moonsSpec(dsId, 8), { 'idempotency-key': key });
    expect(problem(c).status).toBe(422);
    const all = (await t.app.inject({ url: '/v1/jobs?limit=100' })).json().items.filter((j: { id: string }) => j.id === a.json().id);
    expect(all).toHaveLength(1);
  });

  it('concurrent submissions with one key create one job', async () => {
    const key = 'race-' + Math.random();
    const res = await Promise.all(Array.from({ length: 5 }, () => submit(moonsSpec(dsId, 9), { 'idempotency-key': key })));
    expect(new Set(res.map((r) => r.json().id)).size).toBe(1);
  });
});

describe('GET /v1/jobs', () => {
  it('lists newest first, filters by status, pages with a cursor', async () => {
    const a = (await submit(moonsSpec(dsId, 11))).json().id;
    const b = (await submit(moonsSpec(dsId, 12))).json().id;
    const page = (await t.app.inject({ url: '/v1/jobs?limit=1' })).json();
    expect(page.items.map((j: { id: string }) => j.id)).toEqual([b]);
    expect(page.next).toBe(b);
    const page2 = (await t.app.inject({ url: `/v1/jobs?limit=1&after=${page.next}` })).json();
    expect(page2.items[0].id).toBe(a);
    await t.app.inject({ method: 'POST', url: `/v1/jobs/${a}/cancel` });
    const cancelled = (await t.app.inject({ url: '/v1/jobs?status=cancelled&limit=100' })).json();
    expect(cancelled.items.map((j: { id: string }) => j.id)).toContain(a);
    expect(cancelled.items.every((j: { status: string }) => j.status === 'cancelled')).toBe(true);
    expect(problem(await t.app.inject({ url: '/v1/jobs?status=sleeping' })).errors?.[0].path).toBe('status');
  });

  it('GET /v1/jobs/{id} → 404 for an unknown id', async () => {
    expect(problem(await t.app.inject({ url: '/v1/jobs/no-such-job' })).status).toBe(404);
  });
});

describe('POST /v1/jobs/{id}/cancel', () => {
  it('cancels a queued job at once: 200, removed from the queue, terminal event, then 409', async () => {
    const id = (await submit(moonsSpec(dsId, 13))).json().id;
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect(res.json().finishedAt).toBeTruthy();
    expect(await t.app.svc.queue.queue.getJob(id)).toBeUndefined();
    // A finished job's stream replays and closes (inject returns only because the server ends it).
    const sse = await t.app.inject({ url: `/v1/jobs/${id}/events` });
    expect(sse.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(sse.body);
    expect(events.map((e) => [e.id, e.event])).toEqual([['1', 'status'], ['2', 'cancelled']]);
    expect(JSON.parse(events[1].data).status).toBe('cancelled');
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` })).status).toBe(409);
  });

  it('a running job gets a cancel request: 202, flag set, message published', async () => {
    const id = (await submit(moonsSpec(dsId, 14))).json().id;
    await t.app.svc.jobs.transition(id, ['queued'], { status: 'running' });
    const sub = duplicateClient(t.app.svc.redis);
    const got = new Promise<string>((r) => sub.on('message', (_c: string, m: string) => r(m)));
    await sub.subscribe(t.app.svc.keys.cancelChannel());
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'running', cancelRequested: true });
    expect(await got).toBe(id);
    sub.disconnect();
  });

  it('unknown job → 404', async () => {
    expect(problem(await t.app.inject({ method: 'POST', url: '/v1/jobs/job_x/cancel' })).status).toBe(404);
  });
});

describe('GET /v1/jobs/{id}/events', () => {
  it('resumes after Last-Event-ID (header or ?lastEventId=) and rejects a malformed one', async () => {
    const id = (await submit(moonsSpec(dsId, 15))).json().id;
    await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    const h = parseSse((await t.app.inject({ url: `/v1/jobs/${id}/events`, headers: { 'last-event-id': '1' } })).body);
    expect(h.map((e) => e.id)).toEqual(['2']);
    const q = parseSse((await t.app.inject({ url: `/v1/jobs/${id}/events?lastEventId=2` })).body);
    expect(q).toEqual([]);
    expect(problem(await t.app.inject({ url: `/v1/jobs/${id}/events`, headers: { 'last-event-id': 'abc' } })).errors?.[0].in).toBe('header');
  });

  it('event 1 (status queued) is implied by the record: sent first, once, whether or not a stream holds it (jobs from before it was implied do)', async () => {
    const { svc } = t.app;
    const fresh = (await submit(moonsSpec(dsId, 17))).json().id;
    // A new job has no stream until its next event.
    expect(await svc.redis.exists(svc.keys.jobEvents(fresh))).toBe(0);
    // A job created by an earlier version: event 1 stored in its stream.
    const legacy = (await submit(moonsSpec(dsId, 18))).json().id;
    await svc.redis.xadd(svc.keys.jobEvents(legacy), '1-0', 'type', 'status', 'data', JSON.stringify({ status: 'queued' }));
    for (const id of [fresh, legacy]) {
      await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
      const all = parseSse((await t.app.inject({ url: `/v1/jobs/${id}/events` })).body);
      expect(all.map((e) => [e.id, e.event, JSON.parse(e.data).status])).toEqual([
        ['1', 'status', 'queued'],
        ['2', 'cancelled', 'cancelled'],
      ]);
      expect(parseSse((await t.app.inject({ url: `/v1/jobs/${id}/events`, headers: { 'last-event-id': '0' } })).body).map((e) => e.id)).toEqual(['1', '2']);
      expect(parseSse((await t.app.inject({ url: `/v1/jobs/${id}/events?lastEventId=1` })).body).map((e) => e.id)).toEqual(['2']);
    }
  });

  it('unknown job → 404 problem, not a stream', async () => {
    expect(problem(await t.app.inject({ url: '/v1/jobs/job_none/events' })).status).toBe(404);
  });

  it('a live stream starts with retry: and sends events appended after the client connected', async () => {
    const id = (await submit(moonsSpec(dsId, 16))).json().id;
    const res = await t.app.inject({ url: `/v1/jobs/${id}/events`, payloadAsStream: true });
    const chunks: string[] = [];
    const ended = new Promise<void>((r) => res.stream().on('data', (c: Buffer) => chunks.push(c.toString())).on('end', () => r()));
    await waitFor('the stream to open (its retry: line)', () => chunks.join('').startsWith('retry:'), { timeoutMs: 5000, intervalMs: 10 });
    await t.app.svc.jobs.transition(id, ['queued'], { status: 'running' }, { event: { type: 'status', data: { status: 'running' } } });
    await t.app.svc.jobs.finish(id, ['running'], 'failed', { error: { code: 'worker_error', message: 'x' } });
    await ended;
    const text = chunks.join('');
    expect(text.startsWith('retry: 2000\n\n')).toBe(true);
    expect(parseSse(text).map((e) => `${e.id}:${e.event}`)).toEqual(['1:status', '2:status', '3:failed']);
  });
});

describe('SSE heartbeats', () => {
  it('an idle stream gets `: ping` comments until the job ends', async () => {
    const h = await testApp('hb', { SSE_HEARTBEAT_MS: '40' });
    try {
      const ds = await h.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(10)) });
      const id = (await h.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(ds.json().id, 3) })).json().id;
      const res = await h.app.inject({ url: `/v1/jobs/${id}/events`, payloadAsStream: true });
      let text = '';
      const ended = new Promise<void>((r) => res.stream().on('data', (c: Buffer) => (text += c.toString())).on('end', () => r()));
      await waitFor('two `: ping` heartbeats (SSE_HEARTBEAT_MS=40)', () => (text.match(/^: ping$/gm)?.length ?? 0) >= 2, { timeoutMs: 5000, intervalMs: 10, context: () => text });
      await h.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
      await ended;
      expect(parseSse(text).map((e) => e.event)).toEqual(['status', 'cancelled']);
    } finally {
      await h.close();
    }
  });
});

describe('closing the app', () => {
  it('ends open SSE streams with a retry hint instead of waiting for them', async () => {
    const h = await testApp('shut');
    const ds = await h.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(10)) });
    const id = (await h.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(ds.json().id, 3) })).json().id;
    const res = await h.app.inject({ url: `/v1/jobs/${id}/events`, payloadAsStream: true });
    let text = '';
    const ended = new Promise<void>((r) => res.stream().on('data', (c: Buffer) => (text += c.toString())).on('end', () => r()));
    await waitFor('the queued status event', () => parseSse(text).length === 1, { timeoutMs: 5000, intervalMs: 10, context: () => text });
    await h.close();
    await ended;
    expect(parseSse(text).map((e) => e.event)).toEqual(['status']);
    expect(text.endsWith('retry: 1000\n\n')).toBe(true);
  });
});
