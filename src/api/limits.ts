/**
 * Abuse limits: a request rate per API key (per client IP when the API is open), a cap on open
 * SSE streams per key on this process, and a cap on one tenant's queued + running jobs.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RedisClient } from '../queue/connection.js';
import type { Config } from '../config.js';
import { tryReserveActiveJob } from '../storage/active-jobs.js';
import type { Keys } from '../storage/keys.js';
import { isV1, parseApiKeys, resolveKey } from './auth.js';
import { HttpProblem } from './problem.js';

/** The bucket of a request: its API key's id when it has a valid one, else its IP. */
export function clientBucket(req: FastifyRequest, keyOf: (req: FastifyRequest) => string | undefined): string {
  const keyId = keyOf(req);
  return keyId ? `key:${keyId}` : `ip:${req.ip}`;
}

/**
 * Requests per bucket in fixed windows of `windowMs`, each starting at the bucket's first request
 * after the previous one ended; in memory (per process). At most `maxBuckets` buckets are kept:
 * the map is ordered by window start, and the oldest window goes first when another is needed.
 */
export class RequestWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(
    private readonly windowMs: number,
    private readonly maxBuckets = 5000,
  ) {}

  /** Counts one request of `bucket` at `now`: the bucket's count in its window (this one included) and when the window ends (ms). */
  hit(bucket: string, now = Date.now()): { count: number; resetAt: number } {
    let w = this.windows.get(bucket);
    if (!w || w.resetAt <= now) {
      // A new window is inserted last, so the first entry is always the oldest window.
      if (w) this.windows.delete(bucket);
      else if (this.windows.size >= this.maxBuckets) this.windows.delete(this.windows.keys().next().value!);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(bucket, w);
    }
    w.count++;
    return w;
  }

  get size(): number {
    return this.windows.size;
  }
}

/**
 * Registers the rate limit on `/v1` routes and the SSE stream cap. The rate limit runs before the
 * key check, keyed by the key when it is valid, so a client guessing keys is limited by its IP.
 * Every `/v1` answer carries `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
 * (seconds until the window ends); over the limit, `429 rate_limited` with `Retry-After`.
 *
 * (A synchronous hook of our own: @fastify/rate-limit's, with our key generator and allow list,
 * awaited four promises per request, 10–14 µs of the API's CPU per `POST /v1/jobs` measured under
 * `bench:submit`'s load.)
 */
export const limitsPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config; sseRoute?: string }) => {
    const { config } = opts;
    const entries = parseApiKeys(config.API_KEYS);
    const keyOf = (req: FastifyRequest) => (entries.length ? resolveKey(entries, req)?.keyId : undefined);
    if (config.RATE_LIMIT_MAX > 0) {
      const max = config.RATE_LIMIT_MAX;
      const limit = String(max);
      const windowSeconds = Math.round(config.RATE_LIMIT_WINDOW_MS / 1000);
      const windows = new RequestWindows(config.RATE_LIMIT_WINDOW_MS);
      // (`done` rather than async: no promise per request.)
      app.addHook('onRequest', (req, reply, done) => {
        if (!isV1(req)) return done();
        const now = Date.now();
        const w = windows.hit(clientBucket(req, keyOf), now);
        const reset = String(Math.max(1, Math.ceil((w.resetAt - now) / 1000)));
        reply.header('x-ratelimit-limit', limit);
        reply.header('x-ratelimit-remaining', String(Math.max(0, max - w.count)));
        reply.header('x-ratelimit-reset', reset);
        if (w.count <= max) return done();
        done(
          new HttpProblem(429, 'rate_limited', `more than ${max} requests in ${windowSeconds} s for this API key; retry after ${reset} s`, undefined, {
            'retry-after': reset,
          }),
        );
      });
    }

    // Open streams per bucket, counted from the request until its socket closes (per process).
    const sseRoute = opts.sseRoute ?? '/v1/jobs/:id/events';
    const open = new Map<string, number>();
    // (`done` rather than async: no promise per request of the other routes.)
    app.addHook('preHandler', (req, reply, done) => {
      if (req.routeOptions.url !== sseRoute || req.method !== 'GET') return done();
      const bucket = clientBucket(req, (r) => r.apiKeyId ?? keyOf(r));
      const n = open.get(bucket) ?? 0;
      if (n >= config.MAX_SSE_STREAMS_PER_KEY)
        return done(new HttpProblem(
          429,
          'too_many_streams',
          `${n} event streams are already open for this API key (at most ${config.MAX_SSE_STREAMS_PER_KEY}); close one before opening another`,
          undefined,
          { 'retry-after': '5' },
        ));
      open.set(bucket, n + 1);
      reply.raw.once('close', () => {
        const left = (open.get(bucket) ?? 1) - 1;
        if (left <= 0) open.delete(bucket);
        else open.set(bucket, left);
      });
      done();
    });
  },
  { name: 'limits', dependencies: ['api-keys'] },
);

/** Throws a 429 `too_many_active_jobs` when `tenant` already has `max` queued or running jobs. */
export async function reserveActiveJob(redis: RedisClient, keys: Keys, tenant: string, jobId: string, max: number): Promise<void> {
  const n = await tryReserveActiveJob(redis, keys, tenant, jobId, max);
  if (n <= 0)
    throw new HttpProblem(
      429,
      'too_many_active_jobs',
      `this tenant already has ${-n} queued or running jobs (at most ${max}); wait for one to finish or cancel one`,
      undefined,
      { 'retry-after': '10' },
    );
}
