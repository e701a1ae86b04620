/**
 * Query strings and headers are strict on every API route (src/api/route-rules.ts): unknown query
 * parameters are a 400 naming them (with "did you mean"), wrong types a 400 with the parameter path
 * (`in: "query"`), headers the API reads a 400 with `in: "header"`; routes declared later get the
 * same rules without doing anything.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { negotiate, parseAccept } from '../../src/api/headers.js';
import { installProblemHandlers } from '../../src/api/problem.js';
import { checkOnlyHeaders, didYouMean, QueryBoolean, routeRulesPlugin } from '../../src/api/route-rules.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { problem, testApp } from '../helpers/app.js';

let t: Awaited<ReturnType<typeof testApp>>;
let dsId = '';
let jobId = '';

beforeAll(async () => {
  t = await testApp('strict-query');
  dsId = (await t.app.inject({ method: 'POST', url: '/v1/datasets?name=m', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], moons(20)) })).json().id;
  jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsId, 2) })).json().id;
});
afterAll(async () => t?.close());

describe('query strings', () => {
  it('a typo in a query parameter of POST /v1/jobs is a 400 naming it and queues nothing; ?dryRun=true queues nothing either', async () => {
    const before = (await t.app.inject({ url: '/v1/jobs?limit=100' })).json().items.length;
    const keys = (await t.app.svc.redis.keys(`*${t.prefix}*`)).sort();
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs?dry_run=true', payload: moonsSpec(dsId, 2) }));
    expect([p.status, p.code]).toEqual([400, 'validation_failed']);
    expect(p.errors).toEqual([{ path: 'dry_run', message: "unknown query parameter; did you mean 'dryRun'?", in: 'query' }]);
    const other = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs?validate=1', payload: moonsSpec(dsId, 2) }));
    expect(other.errors?.[0]).toMatchObject({ path: 'validate', in: 'query', message: expect.stringMatching(/^unknown query parameter; POST \/v1\/jobs takes /) });
    // the dry run the API does have answers without queueing (it answered 202 and queued a job before it existed)
    const dry = await t.app.inject({ method: 'POST', url: '/v1/jobs?dryRun=true', payload: moonsSpec(dsId, 2) });
    expect(dry.statusCode).not.toBe(202);
    expect(dry.statusCode).toBeLessThan(500);
    expect((await t.app.inject({ url: '/v1/jobs?limit=100' })).json().items.length).toBe(before);
    expect((await t.app.svc.redis.keys(`*${t.prefix}*`)).sort()).toEqual(keys);
  });

  it('a near miss says "did you mean"; the detail lists what the route takes', async () => {
    const p = problem(await t.app.inject({ url: '/v1/jobs?limt=3&Status=queued&zzz=1' }));
    expect(p.status).toBe(400);
    expect(p.errors).toEqual([
      { path: 'limt', message: "unknown query parameter; did you mean 'limit'?", in: 'query' },
      { path: 'Status', message: "unknown query parameter; did you mean 'status'?", in: 'query' },
      { path: 'zzz', message: 'unknown query parameter; GET /v1/jobs takes status, limit, after', in: 'query' },
    ]);
    expect(p.detail).toBe("unknown query parameters 'limt' (did you mean 'limit'?), 'Status' (did you mean 'status'?), 'zzz': GET /v1/jobs takes status, limit, after");
    const ev = problem(await t.app.inject({ url: `/v1/jobs/${jobId}/events?last_event_id=3` }));
    expect(ev.errors?.[0].message).toBe("unknown query parameter; did you mean 'lastEventId'?");
  });

  it('a wrong type is a 400 with the parameter path, in: query, saying what it takes', async () => {
    const p = problem(await t.app.inject({ url: '/v1/jobs?limit=x' }));
    expect(p.errors).toEqual([{ path: 'limit', message: 'must be an integer ≥ 1 and ≤ 100', in: 'query' }]);
    const s = problem(await t.app.inject({ url: '/v1/jobs?status=done' }));
    expect([s.errors?.[0].path, s.errors?.[0].in]).toEqual(['status', 'query']);
    const e = problem(await t.app.inject({ url: `/v1/jobs/${jobId}/events?lastEventId=-1` }));
    expect([e.errors?.[0].path, e.errors?.[0].in]).toEqual(['lastEventId', 'query']);
  });

  it('a parameter given twice is a 400 saying so', async () => {
    const p = problem(await t.app.inject({ url: '/v1/jobs?limit=1&limit=2' }));
    expect(p.errors).toEqual([{ path: 'limit', message: 'given 2 times; give it once', in: 'query' }]);
  });

  it('a list cursor must be an id of the listed kind: GET /v1/jobs?after=<a dataset id> is a 400', async () => {
    const p = problem(await t.app.inject({ url: `/v1/jobs?after=${dsId}` }));
    expect(p.errors).toEqual([{ path: 'after', message: expect.stringMatching(/^not a job id/), in: 'query' }]);
    const d = problem(await t.app.inject({ url: `/v1/datasets?after=${jobId}` }));
    expect(d.errors?.[0]).toMatchObject({ path: 'after', message: expect.stringMatching(/^not a ds id/), in: 'query' });
    expect((await t.app.inject({ url: `/v1/jobs?after=${jobId}` })).statusCode).toBe(200);
  });

  it('every operation of the OpenAPI document refuses an unknown query parameter (before any work)', async () => {
    const doc = t.app.swagger() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        const url = path.replace('{id}', path.startsWith('/v1/datasets') ? dsId : jobId);
        const res = await t.app.inject({ method: method.toUpperCase() as 'GET', url: `${url}?zzUnknown=1`, headers: { 'content-type': 'application/json' }, payload: method === 'get' ? undefined : '{}' });
        const p = problem(res);
        expect([p.status, p.errors?.[0]?.path, p.errors?.[0]?.in], `${method} ${path}`).toEqual([400, 'zzUnknown', 'query']);
        // and each declared query parameter is documented as one
        for (const prm of op.parameters ?? []) expect(['query', 'path', 'header']).toContain(prm.in);
        checked++;
      }
    expect(checked).toBeGreaterThanOrEqual(14);
    // the dataset and the job are still there, untouched
    expect((await t.app.inject({ url: `/v1/datasets/${dsId}` })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `/v1/jobs/${jobId}` })).json().status).toBe('queued');
  });

  it('known parameters still work', async () => {
    expect((await t.app.inject({ url: '/v1/jobs?limit=1&status=queued' })).json().items).toHaveLength(1);
  });
});

describe('headers the API reads', () => {
  it('Idempotency-Key: an empty or over-long key is a 400 at idempotency-key, in: header', async () => {
    for (const key of ['', 'k'.repeat(201)]) {
      const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'idempotency-key': key }, payload: moonsSpec(dsId, 2) }));
      expect([p.status, p.errors?.[0].path, p.errors?.[0].in]).toEqual([400, 'idempotency-key', 'header']);
    }
  });

  it('Last-Event-ID that is not an event id is a 400 in: header', async () => {
    const p = problem(await t.app.inject({ url: `/v1/jobs/${jobId}/events`, headers: { 'last-event-id': '1e3' } }));
    expect(p.errors).toEqual([{ path: 'last-event-id', message: 'must be an event id (a non-negative integer)', in: 'header' }]);
  });

  it('Accept on /metrics: malformed → 400 in: header; nothing acceptable → 406; q-values negotiated', async () => {
    const url = `/v1/jobs/${jobId}/metrics`;
    const bad = problem(await t.app.inject({ url, headers: { accept: 'x/y;q=bad' } }));
    expect([bad.status, bad.errors?.[0].path, bad.errors?.[0].in]).toEqual([400, 'accept', 'header']);
    expect(bad.detail).toMatch(/q=bad is not a weight/);
    const none = problem(await t.app.inject({ url, headers: { accept: 'text/html' } }));
    expect([none.status, none.code, none.errors?.[0].in]).toEqual([406, 'not_acceptable', 'header']);
    const csv = await t.app.inject({ url, headers: { accept: 'application/json;q=0.5, text/csv' } });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const browser = await t.app.inject({ url, headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(browser.headers['content-type']).toMatch(/^application\/json/);
    expect((await t.app.inject({ url })).headers['content-type']).toMatch(/^application\/json/);
  });

  it('parseAccept and negotiate', () => {
    expect(parseAccept('text/csv;q=0.5, */*')).toEqual([{ type: 'text', subtype: 'csv', q: 0.5 }, { type: '*', subtype: '*', q: 1 }]);
    expect(parseAccept('text')).toMatch(/not a media range/);
    expect(parseAccept('*/json')).toMatch(/not a media range/);
    expect(parseAccept('text/csv;q=1.5')).toMatch(/not a weight/);
    expect(negotiate('text/*;q=0.9, application/json;q=0.1', ['application/json', 'text/csv'])).toBe('text/csv');
    expect(negotiate('text/csv;q=0, */*', ['application/json', 'text/csv'])).toBe('application/json');
    expect(negotiate('text/csv;q=0', ['text/csv'])).toBeUndefined();
    expect(negotiate(undefined, ['application/json', 'text/csv'])).toBe('application/json');
  });
});

describe('the mechanism', () => {
  async function appWith(declare: (app: FastifyInstance) => void) {
    const app = Fastify();
    app.setValidatorCompiler(checkOnlyHeaders(validatorCompiler));
    app.setSerializerCompiler(serializerCompiler);
    installProblemHandlers(app);
    await app.register(routeRulesPlugin);
    await app.register(async (child) => declare(child));
    await app.ready();
    return app;
  }

  it('a route declared later in another plugin gets a strict query string, and QueryBoolean reads "false" as false', async () => {
    const app = await appWith((a) =>
      a.withTypeProvider<ZodTypeProvider>().get(
        '/v1/things',
        { schema: { operationId: 'listThings', tags: ['things'], querystring: z.object({ dryRun: QueryBoolean.optional() }) } },
        async (req) => ({ dryRun: req.query.dryRun ?? null }),
      ),
    );
    expect((await app.inject({ url: '/v1/things?dryRun=false' })).json()).toEqual({ dryRun: false });
    expect((await app.inject({ url: '/v1/things?dryRun=true' })).json()).toEqual({ dryRun: true });
    expect(problem(await app.inject({ url: '/v1/things?dryRun=yes' })).errors?.[0]).toMatchObject({ path: 'dryRun', in: 'query' });
    expect(problem(await app.inject({ url: '/v1/things?dry_run=true' })).errors?.[0].message).toBe("unknown query parameter; did you mean 'dryRun'?");
    await app.close();
  });

  it('a route without a query schema takes no query parameter; headers schemas only check (req.headers stays what Node parsed)', async () => {
    const app = await appWith((a) =>
      a.withTypeProvider<ZodTypeProvider>().post(
        '/v1/things',
        { schema: { operationId: 'createThing', tags: ['things'], headers: z.object({ 'x-thing': z.string().max(3).optional() }) } },
        async (req) => ({ ua: req.headers['user-agent'] ?? null, thing: req.headers['x-thing'] ?? null, nodes: req.headers === req.raw.headers }),
      ),
    );
    expect(problem(await app.inject({ method: 'POST', url: '/v1/things?a=1' })).errors?.[0]).toEqual({ path: 'a', message: 'unknown query parameter; POST /v1/things takes no query parameters', in: 'query' });
    expect((await app.inject({ method: 'POST', url: '/v1/things', headers: { 'user-agent': 'ua', 'x-thing': 'abc' } })).json()).toEqual({ ua: 'ua', thing: 'abc', nodes: true });
    expect(problem(await app.inject({ method: 'POST', url: '/v1/things', headers: { 'x-thing': 'long' } })).errors?.[0]).toMatchObject({ path: 'x-thing', in: 'header' });
    await app.close();
  });

  it('refuses to start with an API route that has no operationId or tags, or a duplicate operationId', async () => {
    await expect(appWith((a) => a.get('/v1/x', { schema: { tags: ['x'] } }, async () => 1))).rejects.toThrow(/operationId/);
    await expect(appWith((a) => a.get('/v1/x', async () => 1))).rejects.toThrow(/operationId and tags/);
    await expect(appWith((a) => a.get('/v1/x', { schema: { operationId: 'getX' } }, async () => 1))).rejects.toThrow(/tags/);
    await expect(
      appWith((a) => {
        a.get('/v1/x', { schema: { operationId: 'getX', tags: ['x'] } }, async () => 1);
        a.get('/v1/y', { schema: { operationId: 'getX', tags: ['x'] } }, async () => 1);
      }),
    ).rejects.toThrow(/already used by GET \/v1\/x/);
    // hidden routes (UI, docs, Prometheus) are not API routes
    const app = await appWith((a) => a.get('/ui/x', { schema: { hide: true } }, async () => 'ok'));
    expect((await app.inject({ url: '/ui/x?v=1' })).statusCode).toBe(200);
    await app.close();
  });

  it('didYouMean: case, separators and small typos; nothing for far names', () => {
    const known = ['limit', 'after', 'status', 'lastEventId'];
    expect(didYouMean('LIMIT', known)).toBe('limit');
    expect(didYouMean('last-event-id', known)).toBe('lastEventId');
    expect(didYouMean('aftr', known)).toBe('after');
    expect(didYouMean('page', known)).toBeUndefined();
    expect(didYouMean('x', known)).toBeUndefined();
    expect(didYouMean('anything', [])).toBeUndefined();
  });
});
