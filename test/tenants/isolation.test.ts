import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/core/index.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { parseSse } from '../helpers/sse.js';

const KEY_A = 'tenant-a-key-0123456789abcdef';
const KEY_B = 'tenant-b-key-fedcba9876543210';
const KEY_A2 = 'tenant-a-second-key-000000000';
const sha = async (s: string) => (await import('node:crypto')).createHash('sha256').update(s).digest('hex');

let t: Awaited<ReturnType<typeof testApp>>;
let app: FastifyInstance;
const as = (key: string | undefined, o: InjectOptions) =>
  app.inject({ ...o, headers: { ...(o.headers as Record<string, string>), ...(key ? { authorization: `Bearer ${key}` } : {}) } });

let dsA: string;
let queuedA: string;
let doneA: string;

beforeAll(async () => {
  // tenant a has two keys, one of them configured as its sha256 digest only
  t = await testApp('tenants', { API_KEYS: `${KEY_A}:a, ${KEY_B}:b, sha256:${await sha(KEY_A2)}:a`, RATE_LIMIT_MAX: '0' });
  app = t.app;
  const rows = moons(60);
  const up = await as(KEY_A, { method: 'POST', url: '/v1/datasets?name=a', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], rows) });
  expect(up.statusCode).toBe(201);
  dsA = up.json().id;
  const sub = await as(KEY_A, { method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsA, 3) });
  expect(sub.statusCode).toBe(202);
  queuedA = sub.json().id;
  // a completed job of tenant a: trained here with the core, stored as a worker would
  const done = await as(KEY_A, { method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsA, 2) });
  doneA = done.json().id;
  const spec = moonsSpec(dsA, 2);
  const res = await train(spec, { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) });
  await app.svc.jobs.saveArtifacts(doneA, res.model, res.history);
  const { model: _m, history: _h, ...summary } = res;
  const fin = await app.svc.jobs.finish(doneA, ['queued'], 'completed', { result: { ...summary, durationMs: 1, samplesPerSecond: 1 } as never });
  expect(fin.applied).toBe(true);
});
afterAll(async () => t.close());

/** Every /v1 route, with tenant a's ids. */
const routes = (): InjectOptions[] => [
  { method: 'GET', url: '/v1/datasets' },
  { method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: 'x,y\n1,0\n2,1\n' },
  { method: 'GET', url: `/v1/datasets/${dsA}` },
  { method: 'DELETE', url: `/v1/datasets/${dsA}` },
  { method: 'GET', url: '/v1/jobs' },
  { method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsA, 3) },
  { method: 'GET', url: `/v1/jobs/${queuedA}` },
  { method: 'GET', url: `/v1/jobs/${queuedA}/events` },
  { method: 'GET', url: `/v1/jobs/${doneA}/metrics` },
  { method: 'GET', url: `/v1/jobs/${doneA}/model` },
  { method: 'POST', url: `/v1/jobs/${doneA}/predict`, payload: { features: [[0, 0]] } },
  { method: 'POST', url: `/v1/jobs/${queuedA}/cancel` },
  { method: 'GET', url: '/v1/no-such-route' },
];

describe('API keys', () => {
  it.each([
    ['no Authorization header', undefined],
    ['a wrong key', 'not-a-valid-key-at-all-xxxxxxxx'],
    ['a key differing in one character', KEY_A.slice(0, -1) + 'X'],
    ['the digest instead of the key', 'sha256-digest-is-not-a-key-0000'],
  ])('every /v1 route answers 401 problem+json with WWW-Authenticate: Bearer for %s', async (_n, key) => {
    for (const r of routes()) {
      const res = await as(key, r);
      const p = problem(res);
      expect([r.url, p.status, p.code]).toEqual([r.url, 401, 'unauthorized']);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    }
    // nothing changed: the dataset and the queued job are still there for a
    expect((await as(KEY_A, { url: `/v1/datasets/${dsA}` })).statusCode).toBe(200);
    expect((await as(KEY_A, { url: `/v1/jobs/${queuedA}` })).json().status).toBe('queued');
  });

  it('a Basic or malformed Authorization header is not a Bearer key', async () => {
    for (const h of [`Basic ${Buffer.from(`u:${KEY_A}`).toString('base64')}`, `Bearer`, `Bearer ${KEY_A} extra`, `Token ${KEY_A}`]) {
      const res = await app.inject({ url: '/v1/jobs', headers: { authorization: h } });
      expect([h, res.statusCode]).toEqual([h, 401]);
    }
  });

  it('health, readiness and the docs stay open; /metrics and Bull Board need a key', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/docs/json' })).statusCode).toBe(200);
    const m = await app.inject({ url: '/metrics' });
    expect(m.statusCode).toBe(401);
    expect(problem(m).code).toBe('unauthorized');
    expect((await as('wrong-key-wrong-key-wrong', { url: '/metrics' })).statusCode).toBe(401);
    expect((await as(KEY_B, { url: '/metrics' })).statusCode).toBe(200);
    const board = await app.inject({ url: '/admin/queues' });
    expect(board.statusCode).toBe(401);
    expect(board.headers['www-authenticate']).toMatch(/^Basic /);
    const basic = await app.inject({ url: '/admin/queues', headers: { authorization: `Basic ${Buffer.from(`ops:${KEY_A}`).toString('base64')}` } });
    expect(basic.statusCode).toBe(200);
  });

  it('a key given only as its sha256 digest works, as its tenant', async () => {
    const res = await as(KEY_A2, { url: `/v1/datasets/${dsA}` });
    expect(res.statusCode).toBe(200);
  });
});

describe('tenant b cannot see or touch tenant a', () => {
  it.each([
    ['GET dataset', { method: 'GET', url: () => `/v1/datasets/${dsA}` }],
    ['DELETE dataset', { method: 'DELETE', url: () => `/v1/datasets/${dsA}` }],
    ['GET job', { method: 'GET', url: () => `/v1/jobs/${queuedA}` }],
    ['events', { method: 'GET', url: () => `/v1/jobs/${queuedA}/events` }],
    ['events of a finished job', { method: 'GET', url: () => `/v1/jobs/${doneA}/events` }],
    ['metrics', { method: 'GET', url: () => `/v1/jobs/${doneA}/metrics` }],
    ['model', { method: 'GET', url: () => `/v1/jobs/${doneA}/model` }],
    ['predict', { method: 'POST', url: () => `/v1/jobs/${doneA}/predict`, payload: { features: [[0, 0]] } }],
    ['cancel', { method: 'POST', url: () => `/v1/jobs/${queuedA}/cancel` }],
  ] as const)('%s → 404 not_found, same as an unknown id', async (_n, r) => {
    const res = await as(KEY_B, { method: r.method, url: r.url(), payload: 'payload' in r ? r.payload : undefined });
    const p = problem(res);
    expect(p.status).toBe(404);
    expect(p.code).toBe('not_found');
    // indistinguishable from an id that never existed
    const unknown = await as(KEY_B, { method: r.method, url: r.url().replace(/(ds|job)_[0-9a-z]+/, '$1_0000000000000000000000'), payload: 'payload' in r ? r.payload : undefined });
    expect(unknown.statusCode).toBe(404);
  });

  it("submitting a job on a's dataset → 404 dataset_not_found with path datasetId", async () => {
    const p = problem(await as(KEY_B, { method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsA, 3) }));
    expect([p.status, p.code, p.errors?.[0].path]).toEqual([404, 'dataset_not_found', 'datasetId']);
  });

  it("lists show only the caller's records", async () => {
    expect((await as(KEY_B, { url: '/v1/datasets' })).json().items).toEqual([]);
    expect((await as(KEY_B, { url: '/v1/jobs' })).json().items).toEqual([]);
    expect((await as(KEY_B, { url: `/v1/jobs?after=${queuedA}` })).json().items).toEqual([]);
    const a = (await as(KEY_A, { url: '/v1/jobs' })).json().items.map((j: { id: string }) => j.id);
    expect(a.sort()).toEqual([queuedA, doneA].sort());
    expect((await as(KEY_A, { url: '/v1/datasets' })).json().items.map((d: { id: string }) => d.id)).toEqual([dsA]);
  });

  it('after all of that, a still has everything, and its own requests work', async () => {
    expect((await as(KEY_A, { url: `/v1/datasets/${dsA}` })).statusCode).toBe(200);
    expect((await as(KEY_A, { url: `/v1/jobs/${queuedA}` })).json().status).toBe('queued');
    const pred = await as(KEY_A, { method: 'POST', url: `/v1/jobs/${doneA}/predict`, payload: { features: [[0, 0]] } });
    expect(pred.statusCode).toBe(200);
    expect(pred.json().predictions).toHaveLength(1);
    expect((await as(KEY_A, { url: `/v1/jobs/${doneA}/model` })).statusCode).toBe(200);
    expect((await as(KEY_A, { url: `/v1/jobs/${doneA}/metrics` })).json().history).toHaveLength(2);
    const sse = await as(KEY_A, { url: `/v1/jobs/${doneA}/events` });
    expect(sse.statusCode).toBe(200);
    expect(parseSse(sse.body).at(-1)?.event).toBe('completed');
  });

  it('the same Idempotency-Key in two tenants makes two datasets', async () => {
    const body = { features: [[1], [2]], targets: [0, 1] };
    const a = await as(KEY_A, { method: 'POST', url: '/v1/datasets', headers: { 'idempotency-key': 'shared' }, payload: body });
    const b = await as(KEY_B, { method: 'POST', url: '/v1/datasets', headers: { 'idempotency-key': 'shared' }, payload: body });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json().id).not.toBe(b.json().id);
    expect((await as(KEY_B, { url: `/v1/datasets/${a.json().id}` })).statusCode).toBe(404);
    await as(KEY_A, { method: 'DELETE', url: `/v1/datasets/${a.json().id}` });
    await as(KEY_B, { method: 'DELETE', url: `/v1/datasets/${b.json().id}` });
  });
});
