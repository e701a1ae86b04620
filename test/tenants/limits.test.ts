import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { waitFor, waitForState } from '../helpers/wait.js';

const KEY_A = 'limits-a-key-0123456789abcdef';
const KEY_B = 'limits-b-key-fedcba9876543210';
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('rate limit per API key', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp('ratelimit', { API_KEYS: `${KEY_A}:a,${KEY_B}:b`, RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  afterAll(async () => t.close());

  it('the 4th request in the window → 429 problem+json with Retry-After; another key and /healthz are not limited', async () => {
    for (let i = 0; i < 3; i++) expect((await t.app.inject({ url: '/v1/jobs', headers: auth(KEY_A) })).statusCode).toBe(200);
    const res = await t.app.inject({ url: '/v1/jobs', headers: auth(KEY_A) });
    const p = problem(res);
    expect([p.status, p.code]).toEqual([429, 'rate_limited']);
    const retry = Number(res.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect((await t.app.inject({ url: '/v1/jobs', headers: auth(KEY_B) })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('every /v1 answer says the limit, what is left and when the window ends; /healthz carries none', async () => {
    const t3 = await testApp('ratelimit-headers', { API_KEYS: `${KEY_A}:a`, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '30000' });
    try {
      const seen = [];
      for (let i = 0; i < 3; i++) {
        const res = await t3.app.inject({ url: '/v1/jobs', headers: auth(KEY_A) });
        seen.push([res.statusCode, res.headers['x-ratelimit-limit'], res.headers['x-ratelimit-remaining']]);
        const reset = Number(res.headers['x-ratelimit-reset']);
        expect(reset).toBeGreaterThan(0);
        expect(reset).toBeLessThanOrEqual(30);
        if (res.statusCode === 429) {
          expect(res.headers['retry-after']).toBe(res.headers['x-ratelimit-reset']);
          expect(problem(res).detail).toMatch(/more than 2 requests in 30 s .*retry after \d+ s/);
        }
      }
      expect(seen).toEqual([
        [200, '2', '1'],
        [200, '2', '0'],
        [429, '2', '0'],
      ]);
      expect((await t3.app.inject({ url: '/healthz' })).headers['x-ratelimit-limit']).toBeUndefined();
    } finally {
      await t3.close();
    }
  });

  it('wrong keys share the client IP bucket: guessing keys is limited too', async () => {
    const t2 = await testApp('ratelimit-ip', { API_KEYS: `${KEY_A}:a`, RATE_LIMIT_MAX: '3' });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await t2.app.inject({ url: '/v1/jobs', headers: auth(`guess-${i}-0000000000000000`) })).statusCode);
      expect(codes).toEqual([401, 401, 401, 429, 429]);
      // a valid key has its own bucket
      expect((await t2.app.inject({ url: '/v1/jobs', headers: auth(KEY_A) })).statusCode).toBe(200);
    } finally {
      await t2.close();
    }
  });
});

describe('caps on active jobs and open event streams, dataset Idempotency-Key', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let base: string;
  let dsA: string;
  let dsB: string;
  beforeAll(async () => {
    t = await testApp('caps', { API_KEYS: `${KEY_A}:a,${KEY_B}:b`, RATE_LIMIT_MAX: '0', MAX_ACTIVE_JOBS_PER_TENANT: '2', MAX_SSE_STREAMS_PER_KEY: '2' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const body = toCsv(['x', 'y', 'label'], moons(40));
    for (const [key, set] of [[KEY_A, (id: string) => (dsA = id)], [KEY_B, (id: string) => (dsB = id)]] as const) {
      const up = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth(key), 'content-type': 'text/csv' }, payload: body });
      set(up.json().id);
    }
  });
  afterAll(async () => t.close());

  const submit = (key: string, ds: string) => t.app.inject({ method: 'POST', url: '/v1/jobs', headers: auth(key), payload: moonsSpec(ds, 5) });

  it('MAX_ACTIVE_JOBS_PER_TENANT: the 3rd queued job → 429 too_many_active_jobs; other tenants unaffected; a cancel frees a place', async () => {
    const j1 = await submit(KEY_A, dsA);
    const j2 = await submit(KEY_A, dsA);
    expect([j1.statusCode, j2.statusCode]).toEqual([202, 202]);
    const third = await submit(KEY_A, dsA);
    const p = problem(third);
    expect([p.status, p.code]).toEqual([429, 'too_many_active_jobs']);
    expect(third.headers['retry-after']).toBeDefined();
    expect((await t.app.inject({ url: '/v1/jobs', headers: auth(KEY_A) })).json().items).toHaveLength(2);
    expect((await submit(KEY_B, dsB)).statusCode).toBe(202);
    expect((await t.app.inject({ method: 'POST', url: `/v1/jobs/${j1.json().id}/cancel`, headers: auth(KEY_A) })).statusCode).toBe(200);
    expect((await submit(KEY_A, dsA)).statusCode).toBe(202);
    expect((await submit(KEY_A, dsA)).statusCode).toBe(429);
  });

  it('concurrent submits never exceed the cap (the reservation is atomic)', async () => {
    const C = 'limits-c-key-aaaaaaaaaaaaaaaa';
    const t2 = await testApp('caps2', { API_KEYS: `${C}:c`, RATE_LIMIT_MAX: '0', MAX_ACTIVE_JOBS_PER_TENANT: '3' });
    try {
      const up = await t2.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth(C), 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(20)) });
      const res = await Promise.all(Array.from({ length: 12 }, () => t2.app.inject({ method: 'POST', url: '/v1/jobs', headers: auth(C), payload: moonsSpec(up.json().id, 5) })));
      const codes = res.map((r) => r.statusCode).sort();
      expect(codes.filter((c) => c === 202)).toHaveLength(3);
      expect(codes.filter((c) => c === 429)).toHaveLength(9);
    } finally {
      await t2.close();
    }
  });

  /** Opens an SSE request; resolves with its status once the head arrives, and a function that closes it. */
  function openStream(key: string, jobId: string): Promise<{ status: number; close: () => void; body: () => string }> {
    return new Promise((resolve, reject) => {
      let text = '';
      const req = http.get(`${base}/v1/jobs/${jobId}/events`, { headers: { ...auth(key), accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('error', () => {});
        resolve({ status: res.statusCode!, close: () => req.destroy(), body: () => text });
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    });
  }

  it('MAX_SSE_STREAMS_PER_KEY: the 3rd open stream of a key → 429 too_many_streams; another key may open; closing one frees a place', async () => {
    const jobA = (await t.app.inject({ url: '/v1/jobs?status=queued', headers: auth(KEY_A) })).json().items[0].id;
    const jobB = (await t.app.inject({ url: '/v1/jobs', headers: auth(KEY_B) })).json().items[0].id;
    const s1 = await openStream(KEY_A, jobA);
    const s2 = await openStream(KEY_A, jobA);
    expect([s1.status, s2.status]).toEqual([200, 200]);
    const s3 = await openStream(KEY_A, jobA);
    expect(s3.status).toBe(429);
    const parsed = () => {
      try {
        return JSON.parse(s3.body()) as { code: string };
      } catch {
        return undefined;
      }
    };
    expect((await waitFor('the whole 429 body', parsed, { timeoutMs: 5000, intervalMs: 10, context: () => s3.body() })).code).toBe('too_many_streams');
    const sb = await openStream(KEY_B, jobB);
    expect(sb.status).toBe(200);
    s1.close();
    // the server sees the close asynchronously
    const tryAgain = async () => {
      const s = await openStream(KEY_A, jobA);
      s.close();
      return s.status;
    };
    await waitForState('a place freed by the closed stream (200 on a new one)', tryAgain, (status) => status === 200, { timeoutMs: 5000, intervalMs: 20 });
    for (const s of [s2, sb]) s.close();
  });

  it('Idempotency-Key on POST /v1/datasets: same key and body → the same dataset; a different body → 422', async () => {
    const send = (payload: string, key = 'upload-1', type = 'text/csv') =>
      t.app.inject({ method: 'POST', url: '/v1/datasets?name=idem', headers: { ...auth(KEY_A), 'content-type': type, 'idempotency-key': key }, payload });
    const first = await send('x,y\n1,0\n2,1\n');
    const again = await send('x,y\n1,0\n2,1\n');
    expect([first.statusCode, again.statusCode]).toEqual([201, 201]);
    expect(again.json().id).toBe(first.json().id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const other = await send('x,y\n1,0\n3,1\n');
    const p = problem(other);
    expect([p.status, p.code, p.errors?.[0].path]).toEqual([422, 'idempotency_key_reused', 'idempotency-key']);
    // concurrent first uses of a new key store one dataset
    const many = await Promise.all(Array.from({ length: 5 }, () => send(JSON.stringify({ features: [[1], [2]], targets: [0, 1] }), 'upload-2', 'application/json')));
    expect(new Set(many.map((r) => r.json().id)).size).toBe(1);
    const ids = (await t.app.inject({ url: '/v1/datasets', headers: auth(KEY_A) })).json().items.map((d: { name: string }) => d.name);
    expect(ids.filter((n: string) => n === 'idem')).toHaveLength(2);
  });
});

describe('HEAD on the event stream', () => {
  it('answers the head at once and holds no stream (it used to hang until the job ended)', async () => {
    const t = await testApp('head', { RATE_LIMIT_MAX: '0', MAX_SSE_STREAMS_PER_KEY: '1' });
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      const up = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(20)) });
      const job = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(up.json().id, 5) })).json().id;
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${base}/v1/jobs/${job}/events`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      }
      // with a cap of one stream, a GET still gets its stream: the HEADs hold none
      const ctl = new AbortController();
      const get = await fetch(`${base}/v1/jobs/${job}/events`, { signal: ctl.signal });
      expect(get.status).toBe(200);
      ctl.abort();
    } finally {
      await t.close();
    }
  });
});
