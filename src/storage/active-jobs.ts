import type { RedisClient } from '../queue/connection.js';
import type { Keys } from './keys.js';

/**
 * Reserves a place for job `jobId` among `tenant`'s active jobs, atomically, on the tenant's one
 * key (one slot on a cluster): first drops the members the caller found ended (ARGV 4…), then adds
 * the job unless `max` are already there. Returns the new count, or -count when full.
 * KEYS: active-jobs set. ARGV: id, max, now, stale member, ...
 */
const RESERVE = `
local set, id, max, now = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if #ARGV > 3 then redis.call('ZREM', set, unpack(ARGV, 4)) end
local size = redis.call('ZCARD', set)
if size >= max then return -size end
redis.call('ZADD', set, now, id)
return size + 1
`;

/** Active-job reservations of one tenant: a sorted set (score: reservation time) next to the job index. */
export const activeJobsKey = (keys: Keys, tenant: string) => keys.activeJobs(tenant);

/** Statuses after which a job holds no place among its tenant's active jobs. */
const ENDED = new Set(['completed', 'failed', 'cancelled', 'pruned']);

/**
 * Reserves a place for `jobId` among `tenant`'s active jobs. Returns the count with it (> 0), or
 * minus the count when `max` are already queued or running.
 * Below the cap it is one script call (O(log n)). At the cap, the members whose job ended (or
 * whose record was never written a minute after the reservation) are read here, one key each,
 * and dropped by a second call: a script may not read job records, which live in other slots on
 * a cluster. Dropping an ended job is always right, so a race only costs a retry.
 */
export async function tryReserveActiveJob(redis: RedisClient, keys: Keys, tenant: string, jobId: string, max: number): Promise<number> {
  const r = redis as RedisClient & { tsnnReserveActiveJob?: (key: string, ...argv: (string | number)[]) => Promise<number> };
  // A defined command goes as EVALSHA (the script text is not sent and hashed on every submit).
  if (!r.tsnnReserveActiveJob) redis.defineCommand('tsnnReserveActiveJob', { numberOfKeys: 1, lua: RESERVE });
  const set = activeJobsKey(keys, tenant);
  const n = Number(await r.tsnnReserveActiveJob!(set, jobId, max, Date.now()));
  if (n > 0) return n;
  const members = await redis.zrange(set, '0', '-1', 'WITHSCORES');
  const now = Date.now();
  const pairs: [string, number][] = [];
  for (let i = 0; i + 1 < members.length; i += 2) pairs.push([members[i], Number(members[i + 1])]);
  const statuses = await Promise.all(pairs.map(([m]) => redis.hget(keys.job(m), 'status')));
  const stale = pairs.filter(([, t], i) => (statuses[i] === null && now - t > 60_000) || (statuses[i] !== null && ENDED.has(statuses[i]!))).map(([m]) => m);
  return stale.length ? Number(await r.tsnnReserveActiveJob!(set, jobId, max, now, ...stale)) : n;
}
