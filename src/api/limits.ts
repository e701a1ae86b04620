/**
 * Abuse limits: a request rate per API key (per client IP when the API is open), a cap on open
 * SSE streams per key on this process, and a cap on one tenant's queued + running jobs.
 */
import rateLimit from '@fastify/rate-limit';
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
 * Registers the rate limit on `/v1` routes and the SSE stream cap. The rate limit runs before the
 * key check, keyed by the key when it is valid, so a client guessing keys is limited by its IP.
 */
export const limitsPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config; sseRoute?: string }) => {
    const { config } = opts;
    const entries = parseApiKeys(config.API_KEYS);
    const keyOf = (req: FastifyRequest) => (entries.length ? resolveKey(entries, req)?.keyId : undefined);
    if (config.RATE_LIMIT_MAX > 0) {
      await app.register(rateLimit, {
        global: true,
        max: config.RATE_LIMIT_MAX,
        timeWindow: config.RATE_LIMIT_WINDOW_MS,
        allowList: (req) => !isV1(req),
        keyGenerator: (req) => clientBucket(req, keyOf),
        errorResponseBuilder: (_req, ctx) =>
          new HttpProblem(
            429,
            'rate_limited',
            `more than ${ctx.max} requests in ${Math.round(config.RATE_LIMIT_WINDOW_MS / 1000)} s for this API key; retry after ${ctx.after}`,
            undefined,
            { 'retry-after': String(Math.max(1, Math.ceil(ctx.ttl / 1000))) },
          ),
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
