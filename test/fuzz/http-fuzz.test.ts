/**
 * Property-based fuzzing of the running API (real HTTP on a free port, real Redis, unique prefix):
 * fast-check generates malformed bodies, headers, query strings and paths for every route; every
 * answer must be < 500 (4xx as problem+json), the server must stay up, and the records that
 * existed before (datasets and jobs of two tenants, with their binary data, events, model and
 * metrics) must be byte-for-byte unchanged afterwards. Query strings mix every route's real
 * parameter names, near misses and junk; a documented route must never answer 2xx to a parameter
 * it does not document. Headers: Authorization, Last-Event-ID, Idempotency-Key, Accept (q-values,
 * malformed), Content-Type and headers no route reads.
 *
 * Every input that once produced a 5xx, a hang or a wrong 2xx is kept in test/fuzz/corpus/*.json
 * and replayed first on every run (a failing random request is saved there by the run itself).
 *
 * FUZZ_RUNS (default 20000) sets the number of requests, FUZZ_SEED the seed (printed), e.g.
 * `FUZZ_RUNS=200000 npx vitest run test/fuzz` for a longer run.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { train } from '../../src/core/index.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { deletePrefix, redisUrl, testConfig, uniquePrefix } from '../helpers/redis.js';
import { keysFor } from '../../src/storage/keys.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CONCURRENCY = 12;

const KEY_A = 'fuzz-tenant-a-0123456789abcdef';
const KEY_B = 'fuzz-tenant-b-fedcba9876543210';

const prefix = uniquePrefix('fuzz');
const K = keysFor(prefix);
const serverErrors: string[] = [];
let app: Awaited<ReturnType<typeof buildApp>>;
let redis: Redis;
let port: number;
const inflight = new Set<http.IncomingMessage>();
const ids = { dsA: '', dsB: '', queuedA: '', doneA: '' };
/** `METHOD /openapi/path` → the query parameter names the route documents (every other one must be refused). */
const documentedQuery = new Map<string, Set<string>>();

/** Content hash of every pre-existing record key (strings, hashes, streams) of both tenants. */
async function snapshot(): Promise<Record<string, string>> {
  const keys = [ids.dsA, ids.dsB].flatMap((d) => [K.dataset(d), K.datasetFeatures(d), K.datasetTargets(d)]);
  for (const j of [ids.queuedA, ids.doneA]) keys.push(K.job(j), K.jobEvents(j), K.jobModel(j), K.jobMetrics(j));
  const out: Record<string, string> = {};
  for (const k of keys) {
    const type = await redis.type(k);
    let v: unknown = null;
    if (type === 'string') v = (await redis.getBuffer(k))?.toString('base64');
    else if (type === 'hash') v = Object.entries(await redis.hgetall(k)).sort();
    else if (type === 'stream') v = await redis.xrange(k, '-', '+');
    out[k] = `${type}:${createHash('sha256').update(JSON.stringify(v)).digest('hex')}`;
  }
  // index membership of the pre-existing ids
  out.indexA = JSON.stringify(await Promise.all([redis.zscore(K.datasetIndex('a'), ids.dsA), redis.zscore(K.jobIndex('a'), ids.queuedA), redis.zscore(K.jobIndex('a'), ids.doneA)]));
  out.indexB = JSON.stringify(await redis.zscore(K.datasetIndex('b'), ids.dsB));
  return out;
}

// ---------------------------------------------------------------- generators

const weirdString = fc.oneof(
  fc.constantFrom('', ' ', 'null', '-1', '0', '1e999', 'NaN', '%', '%zz', '%00', '../', '..%2F..%2F', '\u0000', 'ä', '💥', 'a'.repeat(150), 'a'.repeat(300), '[]', '{}', 'true'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const enc = (s: string) => encodeURIComponent(s);
/** `arb` one time in `oneIn`, else null (fc.option's `freq` is the other way round). */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number) => fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('real-dsA', 'real-dsB', 'real-queuedA', 'real-doneA') },
  { weight: 2, arbitrary: weirdString.map(enc) },
  { weight: 1, arbitrary: fc.constantFrom('ds_0000000000000000000000', 'job_0000000000000000000000', '%E0%A4%A', 'a%2Fb', '%20') },
);

const PATHS = [
  ['/v1/datasets', ['GET', 'POST']],
  ['/v1/datasets/:id', ['GET', 'DELETE']],
  ['/v1/jobs', ['GET', 'POST']],
  ['/v1/jobs/:id', ['GET', 'DELETE']],
  ['/v1/jobs/:id/events', ['GET']],
  ['/v1/jobs/:id/metrics', ['GET']],
  ['/v1/jobs/:id/model', ['GET']],
  ['/v1/jobs/:id/predict', ['POST']],
  ['/v1/jobs/:id/cancel', ['POST']],
  ['/v1/jobs/:id/checkpoints', ['GET']],
  // sweeps and webhooks: reads, cancels and deletes only (a created sweep would queue jobs, a created webhook would deliver)
  ['/v1/sweeps', ['GET']],
  ['/v1/sweeps/:id', ['GET']],
  ['/v1/sweeps/:id/trials', ['GET']],
  ['/v1/sweeps/:id/events', ['GET']],
  ['/v1/sweeps/:id/cancel', ['POST']],
  ['/v1/webhooks', ['GET']],
  ['/v1/webhooks/:id', ['GET', 'DELETE']],
  ['/v1/webhooks/:id/deliveries', ['GET']],
  ['/v1/nope/:id', ['GET']],
  ['/healthz', ['GET']],
  ['/readyz', ['GET']],
  ['/metrics', ['GET']],
  ['/docs/json', ['GET']],
  ['/admin/queues/api/queues', ['GET']],
  ['/ui/:id', ['GET']],
] as const;

/** Query parameter names: every route's real ones, near misses of them, and anything. */
const QUERY_NAMES = ['limit', 'after', 'status', 'lastEventId', 'target', 'name', 'format', 'dryRun', 'x', 'Limit', 'limt', 'last_event_id', 'dry_run', '', '__proto__', 'constructor', 'limit[]', 'a.b'];
const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...QUERY_NAMES) }, { weight: 1, arbitrary: weirdString }),
      fc.oneof(fc.constantFrom('0', '-1', '1', '20', '101', 'abc', '1.5', '1e20', 'true', 'false', 'onnx', 'tfjs', 'json', 'queued', 'running', 'label', 'x', 'real-dsA', 'real-queuedA'), weirdString),
      fc.boolean(),
    ),
    { maxLength: 4 },
  )
  // sometimes a bare name (`?dryRun`), which parses as an empty value
  .map((pairs) => (pairs.length ? '?' + pairs.map(([k, v, bare]) => (bare && k ? enc(k) : `${enc(k)}=${enc(v)}`)).join('&') : ''));

const weird = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e308, -1e-308, 2 ** 53 + 1, '', 'x', [], {}, [[]], [null], { __proto__: 1 }, 'real-dsA'),
  fc.string({ maxLength: 10 }),
  fc.double(),
  fc.integer(),
);

/** A valid spec with one field replaced, removed or added. */
const specArb = fc
  .tuple(
    fc.constantFrom('datasetId', 'model', 'loss', 'optimizer', 'epochs', 'batchSize', 'normalize', 'validationSplit', 'seed', 'clip', 'schedule', 'earlyStopping', 'gradientCheck', 'dtype', 'extra'),
    fc.oneof(
      weird,
      fc.constantFrom(
        { layers: [{ units: 3, activation: 'softmax' }] },
        { layers: [{ units: 5000, activation: 'relu' }, { units: 2, activation: 'softmax' }] },
        { layers: [] },
        { type: 'adam', learningRate: 0 },
        { type: 'adam', beta1: 1 },
        { type: 'sgd', learningRate: -1, extra: 1 },
        { type: 'value' },
        100000,
        1e9,
      ),
    ),
    fc.boolean(),
  )
  .map(([field, value, drop]) => {
    const spec: Record<string, unknown> = { ...moonsSpec('real-dsA', 2) };
    if (drop) delete spec[field];
    else spec[field] = value;
    return spec;
  });

const datasetJsonArb = fc.oneof(
  fc.record(
    { name: fc.oneof(fc.string({ maxLength: 5 }), weird), features: fc.oneof(fc.array(fc.array(weird, { maxLength: 3 }), { maxLength: 3 }), weird), targets: fc.oneof(fc.array(weird, { maxLength: 3 }), weird) },
    { requiredKeys: [] },
  ),
  fc.record({ features: fc.array(fc.array(fc.double({ noNaN: true }), { minLength: 2, maxLength: 2 }), { maxLength: 1 }), targets: fc.array(fc.integer(), { maxLength: 1 }) }),
);

const predictArb = fc.oneof(
  fc.record({ features: fc.oneof(fc.array(fc.array(weird, { maxLength: 4 }), { maxLength: 3 }), weird) }, { requiredKeys: [] }),
  fc.record({ features: fc.array(fc.array(fc.double(), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }), x: weird }, { requiredKeys: ['features'] }),
);

const CELLS = ['1', '0', '-2.5', '1e3', 'x', '', 'NaN', 'Infinity', '0x1', '"', '""', '"1,2"', ' ', 'a', 'label', '1e999', '\u00e9'];
const csvArb = fc.oneof(
  fc
    .tuple(
      fc.array(fc.array(fc.constantFrom(...CELLS), { minLength: 0, maxLength: 4 }), { maxLength: 5 }),
      fc.constantFrom('\n', '\r\n', '\r', '\n\n'),
      fc.boolean(),
    )
    .map(([rows, eol, bom]) => (bom ? '\ufeff' : '') + rows.map((r) => r.join(',')).join(eol)),
  fc.constantFrom(','.repeat(200_000), 'a,b\n1,2\n' + ','.repeat(200_000), '"'.repeat(1000), 'a,b\n1,2\n3'),
  fc.string({ maxLength: 60 }),
);

const multipartArb = fc
  .tuple(
    fc.array(
      fc.tuple(fc.constantFrom('file', 'name', 'target', 'x', ''), fc.boolean(), csvArb),
      { maxLength: 3 },
    ),
    fc.boolean(),
  )
  .map(([parts, close]) => {
    const b = 'FUZZ';
    const body =
      parts
        .map(([name, isFile, content]) => `--${b}\r\nContent-Disposition: form-data; name="${name}"${isFile ? '; filename="d.csv"\r\nContent-Type: text/csv' : ''}\r\n\r\n${content}\r\n`)
        .join('') + (close ? `--${b}--\r\n` : '');
    return { type: `multipart/form-data; boundary=${b}`, body: Buffer.from(body) };
  });

const CONTENT_TYPES = ['application/json', 'text/csv', 'application/csv', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=utf-16', 'multipart/form-data', 'text/csv; charset=latin1', 'image/png', 'application/problem+json'];

const bodyArb: fc.Arbitrary<{ type?: string; body?: Buffer }> = fc.oneof(
  fc.constant({}),
  specArb.map((s) => ({ type: 'application/json', body: Buffer.from(JSON.stringify(s)) })),
  datasetJsonArb.map((d) => ({ type: 'application/json', body: Buffer.from(JSON.stringify(d)) })),
  predictArb.map((d) => ({ type: 'application/json', body: Buffer.from(JSON.stringify(d)) })),
  fc.jsonValue().map((v) => ({ type: 'application/json', body: Buffer.from(JSON.stringify(v) ?? '') })),
  csvArb.map((c) => ({ type: 'text/csv', body: Buffer.from(c) })),
  multipartArb,
  fc.tuple(fc.constantFrom(...CONTENT_TYPES), fc.uint8Array({ maxLength: 200 })).map(([type, b]) => ({ type, body: Buffer.from(b) })),
  fc.tuple(fc.constantFrom(...CONTENT_TYPES), fc.string({ maxLength: 200 })).map(([type, s]) => ({ type, body: Buffer.from(s) })),
);

const authArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(`Bearer ${KEY_A}`, `Bearer ${KEY_B}`) },
  { weight: 2, arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer wrong-key-wrong-key-wrong', `bearer ${KEY_A}`, `Basic ${Buffer.from(`u:${KEY_A}`).toString('base64')}`, `Bearer ${KEY_A}x`, 'Basic !!!', `Bearer ${'k'.repeat(600)}`) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }) },
);
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

export interface FuzzRequest {
  /** Route pattern it was generated for (for the counts). */
  route?: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const json = (v: unknown) => ({ type: 'application/json', body: Buffer.from(JSON.stringify(v)) });
/** The body a route expects, malformed in its own ways (generated only for that route: generation is the slow part). */
const routeBodyArb = (pattern: string): fc.Arbitrary<{ type?: string; body?: Buffer }> =>
  pattern === '/v1/jobs' ? specArb.map(json)
  : pattern.endsWith('/predict') ? predictArb.map(json)
  : pattern === '/v1/datasets' ? fc.oneof(datasetJsonArb.map(json), csvArb.map((c) => ({ type: 'text/csv', body: Buffer.from(c) })), multipartArb)
  : fc.constant({});

const requestArb: fc.Arbitrary<FuzzRequest> = fc.constantFrom(...PATHS).chain((route) => fc
  .record({
    route: fc.constant(route),
    routeMethod: fc.constantFrom(...route[1]),
    otherMethod: sometimes(fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'DELETE', 'POST', 'GET'), 8),
    id: idArb,
    query: queryArb,
    body: fc.oneof({ weight: 2, arbitrary: bodyArb }, { weight: 3, arbitrary: fc.constant(null) }),
    routeBody: routeBodyArb(route[0]),
    auth: authArb,
    lastEventId: sometimes(fc.oneof(fc.constantFrom('0', '1', '-1', '1e20', '9'.repeat(16), 'abc'), headerValue), 4),
    idem: sometimes(fc.oneof(headerValue, fc.constant('k'.repeat(300))), 4),
    accept: sometimes(
      fc.oneof(
        fc.constantFrom('text/csv', 'text/event-stream', '*/*', 'application/json', 'text/html', 'x/y;q=bad', 'text/csv;q=0', 'application/json;q=0.5, text/csv', 'text/*', '*/json', ',', 'text/csv;q=1.0001', 'application/*;q=0.1'),
        headerValue,
      ),
      3,
    ),
    /** A header no route reads, with a weird name or value: must change nothing. */
    extra: sometimes(fc.tuple(fc.constantFrom('x-fuzz', 'x-idempotency-key', 'idempotency_key', 'last-event', 'x-http-method-override', 'prefer'), headerValue), 6),
    typeOverride: sometimes(fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerValue), 12),
  })
  .map((r) => {
    const [pattern] = r.route;
    const method = r.otherMethod ?? r.routeMethod;
    const headers: Record<string, string> = {};
    if (r.auth !== undefined) headers.authorization = r.auth;
    if (r.lastEventId !== null) headers['last-event-id'] = r.lastEventId;
    if (r.idem !== null) headers['idempotency-key'] = r.idem;
    if (r.accept !== null) headers.accept = r.accept;
    if (r.extra !== null) headers[r.extra[0]] = r.extra[1];
    // most requests carry the body their route expects, the rest anything
    const body = r.body ?? r.routeBody;
    const type = r.typeOverride ?? body.type;
    if (type !== undefined && body.body) headers['content-type'] = type;
    return { route: pattern, method, path: pattern.replace(':id', r.id) + r.query, headers, body: body.body };
  }));

// ---------------------------------------------------------------- the run

/** Real ids, substituted at send time; a's records are never deleted or cancelled by a itself. */
function resolve(req: FuzzRequest): FuzzRequest {
  const path = req.path
    .replaceAll('real-dsA', ids.dsA)
    .replaceAll('real-dsB', ids.dsB)
    .replaceAll('real-queuedA', ids.queuedA)
    .replaceAll('real-doneA', ids.doneA);
  const headers = { ...req.headers };
  const body = req.body ? Buffer.from(req.body.toString('latin1').replaceAll('real-dsA', ids.dsA), 'latin1') : undefined;
  const destructive = req.method === 'DELETE' || (req.method === 'POST' && /\/cancel(\?|$)/.test(path));
  // the owner may legitimately delete or cancel its own records: only other tenants and bad keys try that
  const isKey = (k: string) => new RegExp(`^bearer[ \t]+${k}[ \t]*$`, 'i').test(headers.authorization ?? '');
  if (destructive && [ids.dsA, ids.queuedA, ids.doneA].some((id) => path.includes(id)) && isKey(KEY_A)) headers.authorization = `Bearer ${KEY_B}`;
  if (destructive && path.includes(ids.dsB) && isKey(KEY_B)) headers.authorization = `Bearer ${KEY_A}`;
  // Node's client sends a GET/DELETE/OPTIONS body without a length (not HTTP): always send one
  if (body) headers['content-length'] = String(body.length);
  return { route: req.route, method: req.method, path, headers, body };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

interface Answer {
  status: number;
  type: string;
  body: string;
}

/** Sends one request; an SSE answer is read until its head and then dropped (a live stream never ends). */
function send(req: FuzzRequest, via: http.Agent = agent, timeoutMs = 10_000): Promise<Answer | { clientError: string }> {
  return new Promise((resolvePromise) => {
    let r: http.ClientRequest;
    try {
      r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers, agent: via }, (res) => {
        const type = String(res.headers['content-type'] ?? '');
        if (type.startsWith('text/event-stream')) {
          res.destroy();
          r.destroy();
          resolvePromise({ status: res.statusCode!, type, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode!, type, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolvePromise({ clientError: e.message }));
      });
    } catch (e) {
      resolvePromise({ clientError: (e as Error).message }); // a header node's client refuses to send
      return;
    }
    r.on('socket', (sock) => {
      const h = sock as unknown as { fuzzHistory?: string[] };
      h.fuzzHistory = [...(h.fuzzHistory ?? []).slice(-2), `${req.method} ${req.path.slice(0, 80)} ${JSON.stringify(req.headers).slice(0, 200)} body=${req.body?.length}`];
      r.setTimeout(timeoutMs, () => {
        if (process.env.FUZZ_DEBUG) console.log('timeout; this socket carried:', h.fuzzHistory);
        r.destroy(new Error('timeout'));
      });
    });
    r.on('error', (e) => resolvePromise({ clientError: e.message }));
    r.end(req.body);
  });
}

beforeAll(async () => {
  const config = testConfig(prefix, { API_KEYS: `${KEY_A}:a,${KEY_B}:b`, RATE_LIMIT_MAX: '0', MAX_ACTIVE_JOBS_PER_TENANT: '50', SSE_HEARTBEAT_MS: '60000', LOG_LEVEL: 'error' });
  app = await buildApp(config, { level: 'error', stream: { write: (line: string) => serverErrors.push(line) } } as never);
  await app.listen({ port: 0, host: '127.0.0.1' });
  app.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    inflight.add(req);
    res.on('close', () => inflight.delete(req));
  });
  port = (app.server.address() as AddressInfo).port;
  type Doc = { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };
  for (const [path, item] of Object.entries((app.swagger() as unknown as Doc).paths))
    for (const [m, op] of Object.entries(item)) documentedQuery.set(`${m.toUpperCase()} ${path}`, new Set((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)));
  redis = new Redis(redisUrl());
  const auth = (k: string) => ({ authorization: `Bearer ${k}` });
  const rows = moons(30);
  const up = async (k: string) => (await app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...auth(k), 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'label'], rows) })).json().id as string;
  ids.dsA = await up(KEY_A);
  ids.dsB = await up(KEY_B);
  ids.queuedA = (await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth(KEY_A), payload: moonsSpec(ids.dsA, 2) })).json().id;
  ids.doneA = (await app.inject({ method: 'POST', url: '/v1/jobs', headers: auth(KEY_A), payload: moonsSpec(ids.dsA, 2) })).json().id;
  const res = await train(moonsSpec(ids.dsA, 2), { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) });
  await app.svc.jobs.saveArtifacts(ids.doneA, res.model, res.history);
  await app.svc.jobs.finish(ids.doneA, ['queued'], 'completed', { result: { loss: res.loss, epochsRun: 2, stoppedEarly: false, weightsHash: res.weightsHash, durationMs: 1, samplesPerSecond: 1 } });
});

afterAll(async () => {
  agent.destroy();
  redis?.disconnect();
  app?.server.closeAllConnections();
  await app?.close();
  await deletePrefix(prefix);
});

// ---------------------------------------------------------------- the regression corpus

/**
 * One stored input that once produced a 5xx, a hang or a wrong 2xx (test/fuzz/corpus/*.json),
 * replayed on every run. `real-dsA`, `real-dsB`, `real-queuedA`, `real-doneA` in paths and bodies
 * stand for the records the suite creates. A failing random request is written there as
 * `found-<seed>-<n>.json` (commit it with the fix).
 */
interface CorpusCase {
  name: string;
  /** Where it came from: the commit or issue of the bug. */
  found: string;
  /** Sent in order on one keep-alive connection. */
  requests?: CorpusRequest[];
  /** Bytes written to a fresh socket instead (input that is not HTTP). */
  raw?: string;
  expectRaw?: Expectation;
  /** No job may be created by the case (a dry run, a refused submit). */
  noNewJobs?: boolean;
}
type BodyPiece = string | { repeat: string; times: number };
interface CorpusRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** UTF-8 text, or pieces joined (`{repeat, times}` for large bodies). */
  body?: string | BodyPiece[];
  bodyBase64?: string;
  expect?: Expectation;
}
interface Expectation {
  status?: number[];
  notStatus?: number[];
  /** Every status must be below this (default 500). */
  below?: number;
  problemJson?: boolean;
  /** Answered within this many ms (default 10 s). */
  withinMs?: number;
}

const CORPUS_DIR = join(import.meta.dirname, 'corpus');
const corpus = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, c: JSON.parse(readFileSync(join(CORPUS_DIR, f), 'utf8')) as CorpusCase }));

function bodyOf(r: CorpusRequest): Buffer | undefined {
  if (r.bodyBase64 !== undefined) return Buffer.from(r.bodyBase64, 'base64');
  if (r.body === undefined) return undefined;
  const pieces = typeof r.body === 'string' ? [r.body] : r.body;
  return Buffer.from(pieces.map((p) => (typeof p === 'string' ? p : p.repeat.repeat(p.times))).join(''));
}

/** Stores a failing generated request in the corpus, so every later run replays it. */
function saveFinding(req: FuzzRequest, why: string, expectation: Expectation): void {
  if (process.env.FUZZ_SAVE === '0') return;
  const body = req.body;
  const utf8 = body && Buffer.from(body.toString('utf8')).equals(body);
  const c: CorpusCase = {
    name: why.slice(0, 300),
    found: `test/fuzz random run, seed ${SEED}`,
    requests: [{ method: req.method, path: req.path, headers: req.headers, ...(body ? (utf8 ? { body: body.toString('utf8') } : { bodyBase64: body.toString('base64') }) : {}), expect: expectation }],
  };
  const file = join(CORPUS_DIR, `found-${SEED}-${createHash('sha256').update(JSON.stringify(c.requests)).digest('hex').slice(0, 8)}.json`);
  writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
  console.log(`saved to ${file}: commit it with the fix`);
}

/** Writes raw bytes on a new socket; the status line and content type of what comes back. */
function sendRaw(bytes: string, timeoutMs: number): Promise<Answer | { clientError: string }> {
  return new Promise((done) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      done({ clientError: 'timeout' });
    }, timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!m) return done({ clientError: `no HTTP answer: ${JSON.stringify(text.slice(0, 100))}` });
      const type = /\r\ncontent-type: ([^\r]*)/i.exec(text)?.[1] ?? '';
      done({ status: Number(m[1]), type, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    sock.write(Buffer.from(bytes, 'latin1'));
  });
}

/** What is wrong with an answer, by the case's expectation (empty when nothing). */
function check(a: Answer | { clientError: string }, e: Expectation = {}): string[] {
  if ('clientError' in a) return [a.clientError === 'timeout' ? `no answer within ${e.withinMs ?? 10_000} ms` : `client error: ${a.clientError}`];
  const wrong: string[] = [];
  if (a.status >= (e.below ?? 500)) wrong.push(`status ${a.status} ≥ ${e.below ?? 500}`);
  if (e.status && !e.status.includes(a.status)) wrong.push(`status ${a.status}, expected ${e.status.join(' or ')}`);
  if (e.notStatus?.includes(a.status)) wrong.push(`status ${a.status} must not be answered`);
  if (e.problemJson && !a.type.startsWith('application/problem+json')) wrong.push(`content-type ${a.type}, expected application/problem+json`);
  return wrong.map((w) => `${w} (${a.body.slice(0, 200)})`);
}

const jobCount = async () => (await redis.zcard(K.jobIndex('a'))) + (await redis.zcard(K.jobIndex('b')));

describe(`HTTP fuzzing (fast-check, ${RUNS} requests, seed ${SEED})`, () => {
  it(`replays the regression corpus (${corpus.length} cases in test/fuzz/corpus)`, { timeout: 120_000 }, async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(10);
    const before = await snapshot();
    const failures: string[] = [];
    for (const { file, c } of corpus) {
      const jobsBefore = await jobCount();
      if (c.raw !== undefined) {
        for (const w of check(await sendRaw(c.raw, c.expectRaw?.withinMs ?? 10_000), c.expectRaw)) failures.push(`${file} (${c.name}): ${w}`);
      } else {
        // one connection for the case's requests, in order (a bug left a keep-alive connection unusable)
        const one = new http.Agent({ keepAlive: true, maxSockets: 1 });
        for (const [n, r] of (c.requests ?? []).entries()) {
          const req = resolve({ method: r.method, path: r.path, headers: r.headers ?? {}, body: bodyOf(r) });
          for (const w of check(await send(req, one, r.expect?.withinMs ?? 10_000), r.expect)) failures.push(`${file} (${c.name}) request ${n + 1}: ${w}`);
        }
        one.destroy();
      }
      if (c.noNewJobs && (await jobCount()) !== jobsBefore) failures.push(`${file} (${c.name}): a job was created`);
    }
    expect(failures).toEqual([]);
    expect(serverErrors.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('no 5xx, 4xx are problem+json, the server stays up, pre-existing records unchanged', { timeout: 600_000 }, async () => {
    const before = await snapshot();
    const genStart = Date.now();
    const requests = fc.sample(requestArb, { numRuns: RUNS, seed: SEED });
    const genSeconds = (Date.now() - genStart) / 1000;
    const byStatus = new Map<string, number>();
    const byRoute = new Map<string, Record<number, number>>();
    const failures: string[] = [];
    let clientErrors = 0;
    let next = 0;
    const started = Date.now();
    async function worker() {
      while (next < requests.length) {
        const i = next++;
        const req = resolve(requests[i]);
        const a = await send(req);
        if ('clientError' in a) {
          clientErrors++;
          if (clientErrors <= 3) console.log(`client error ${a.clientError}: ${req.method} ${req.path.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 300)}`);
          // a request the server never answers is a bug (a HEAD on the event stream hung like this)
          if (a.clientError === 'timeout') {
            failures.push(`no answer in 10 s: ${req.method} ${req.path.slice(0, 200)} ${JSON.stringify(req.headers).slice(0, 300)}`);
            saveFinding(requests[i], failures.at(-1)!, { withinMs: 10_000 });
          }
          byStatus.set('client-refused', (byStatus.get('client-refused') ?? 0) + 1);
          continue;
        }
        byStatus.set(String(a.status), (byStatus.get(String(a.status)) ?? 0) + 1);
        const perRoute = byRoute.get(req.route!) ?? {};
        perRoute[a.status] = (perRoute[a.status] ?? 0) + 1;
        byRoute.set(req.route!, perRoute);
        const failuresBefore = failures.length;
        const describeReq = () => `#${i} ${req.method} ${req.path} ${JSON.stringify(req.headers)} ${req.body?.toString('utf8').slice(0, 200) ?? ''} → ${a.status} ${a.body.slice(0, 200)}`;
        if (a.status >= 500) failures.push(describeReq());
        if (process.env.FUZZ_DEBUG && a.status === Number(process.env.FUZZ_DEBUG)) console.log(describeReq().slice(0, 400));
        const isApi = req.path.startsWith('/v1') || req.path.startsWith('/metrics');
        if (a.status >= 400 && isApi && req.method !== 'HEAD' && !a.type.startsWith('application/problem+json')) failures.push(`not problem+json: ${describeReq()}`);
        // a query parameter the route does not document is never accepted (a wrong 2xx: ?dryRun=true queued a job)
        const documented = documentedQuery.get(`${req.method === 'HEAD' ? 'GET' : req.method} ${req.route!.replace(':id', '{id}')}`);
        if (documented && a.status < 300) {
          const unknown = [...new URL(req.path, 'http://x').searchParams.keys()].filter((k) => !documented.has(k));
          if (unknown.length) failures.push(`unknown query parameter ${JSON.stringify(unknown)} accepted: ${describeReq()}`);
        }
        // another tenant (or no key) never gets a's records
        if (req.headers.authorization === `Bearer ${KEY_B}` && [ids.queuedA, ids.doneA, ids.dsA].some((id) => req.path.includes(`/${id}`)) && a.status < 300)
          failures.push(`tenant b reached a's record: ${describeReq()}`);
        if (failures.length > failuresBefore) saveFinding(requests[i], failures.at(-1)!, a.status >= 500 ? { below: 500 } : { below: 500, notStatus: [200, 201, 202, 204] });
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (Date.now() - started) / 1000;
    if (inflight.size) console.log('still in flight on the server:', [...inflight].map((r) => `${r.method} ${r.url?.slice(0, 120)} ${JSON.stringify(r.headers).slice(0, 200)}`));
    const counts = Object.fromEntries([...byStatus.entries()].sort());
    console.log(`fuzz: ${requests.length} requests (generated in ${genSeconds.toFixed(1)} s) sent in ${seconds.toFixed(1)} s (seed ${SEED}); by status ${JSON.stringify(counts)}`);
    for (const [route, counts] of [...byRoute.entries()].sort()) console.log(`  ${route.padEnd(28)} ${JSON.stringify(counts)}`);
    if (failures.length) console.log(failures.slice(0, 20).join('\n'), '\n', serverErrors.slice(0, 5).join('\n'));
    expect(failures).toEqual([]);
    expect(serverErrors.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
    expect(clientErrors).toBeLessThan(requests.length * 0.05);
    // still up, and nothing that existed changed
    expect((await send({ method: 'GET', path: '/healthz', headers: {} })) as Answer).toMatchObject({ status: 200 });
    expect((await send({ method: 'GET', path: '/readyz', headers: {} })) as Answer).toMatchObject({ status: 200 });
    expect(await snapshot()).toEqual(before);
  });
});
