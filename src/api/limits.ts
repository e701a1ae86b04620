/**
 * Abuse limits: a request rate per API key (per client IP when the API is open), a cap on open
 * SSE streams per key on this process, and a cap on one tenant's queued + running jobs.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
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
    app.addHook('preHandler', async (req, reply) => {
      if (req.routeOptions.url !== sseRoute || req.method !== 'GET') return;
      const bucket = clientBucket(req, (r) => r.apiKeyId ?? keyOf(r));
      const n = open.get(bucket) ?? 0;
      if (n >= config.MAX_SSE_STREAMS_PER_KEY)
        throw new HttpProblem(
          429,
          'too_many_streams',
          `${n} event streams are already open for this API key (at most ${config.MAX_SSE_STREAMS_PER_KEY}); close one before opening another`,
          undefined,
          { 'retry-after': '5' },
        );
      open.set(bucket, n + 1);
      reply.raw.once('close', () => {
        const left = (open.get(bucket) ?? 1) - 1;
        if (left <= 0) open.delete(bucket);
        else open.set(bucket, left);
      });
    });
  },
  { name: 'limits', dependencies: ['api-keys'] },
);

/**
 * Reserves a place for job `jobId` among `tenant`'s active jobs, atomically: at the cap, members
 * whose record is terminal (or never written after a minute) are pruned first. Returns false when
 * `max` are already queued or running.
 */
const RESERVE = `
local set, prefix, id, max, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
-- Below the cap even counting ended jobs: no scan needed (O(log n) per submit; the set never holds more than max).
local size = redis.call('ZCARD', set)
if size < max then
  redis.call('ZADD', set, now, id)
  return size + 1
end
local members = redis.call('ZRANGE', set, 0, -1, 'WITHSCORES')
local count = 0
for i = 1, #members, 2 do
  local m, t = members[i], tonumber(members[i + 1])
  local st = redis.call('HGET', prefix .. 'job:{' .. m .. '}', 'status')
  if (not st and now - t > 60000) or st == 'completed' or st == 'failed' or st == 'cancelled' or st == 'pruned' then
    redis.call('ZREM', set, m)
  else
    count = count + 1
  end
end
if count >= max then return -count end
redis.call('ZADD', set, now, id)
return count + 1
`;

/** Active-job reservations of one tenant: a sorted set (score: reservation time) next to the job index. */
export const activeJobsKey = (keys: Keys, tenant: string) => keys.activeJobs(tenant);

/** Throws a 429 `too_many_active_jobs` when `tenant` already has `max` queued or running jobs. */
export async function reserveActiveJob(redis: Redis, keys: Keys, tenant: string, jobId: string, max: number): Promise<void> {
  if (keys.job('x') !== `${keys.prefix}job:{x}`) throw new Error('active-job script assumes job keys are <prefix>job:{<id>}');
  const r = redis as Redis & { tsnnReserveActiveJob?: (key: string, ...argv: (string | number)[]) => Promise<number> };
  // A defined command goes as EVALSHA (the script text is not sent and hashed on every submit).
  if (!r.tsnnReserveActiveJob) redis.defineCommand('tsnnReserveActiveJob', { numberOfKeys: 1, lua: RESERVE });
  const n = Number(await r.tsnnReserveActiveJob!(activeJobsKey(keys, tenant), keys.prefix, jobId, max, Date.now()));
  if (n <= 0)
    throw new HttpProblem(
      429,
      'too_many_active_jobs',
      `this tenant already has ${-n} queued or running jobs (at most ${max}); wait for one to finish or cancel one`,
      undefined,
      { 'retry-after': '10' },
    );
}
