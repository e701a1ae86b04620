import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * Reserves a place for job `jobId` among `tenant`'s active jobs, atomically: at the cap, members
 * whose record is terminal (or never written after a minute) are pruned first. Returns the count
 * with it, or minus the count when `max` are already queued or running.
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

/**
 * Reserves a place for `jobId` among `tenant`'s active jobs (see RESERVE). Returns the count
 * with it (> 0), or minus the count when `max` are already queued or running.
 */
export async function tryReserveActiveJob(redis: Redis, keys: Keys, tenant: string, jobId: string, max: number): Promise<number> {
  if (keys.job('x') !== `${keys.prefix}job:{x}`) throw new Error('active-job script assumes job keys are <prefix>job:{<id>}');
  const r = redis as Redis & { tsnnReserveActiveJob?: (key: string, ...argv: (string | number)[]) => Promise<number> };
  // A defined command goes as EVALSHA (the script text is not sent and hashed on every submit).
  if (!r.tsnnReserveActiveJob) redis.defineCommand('tsnnReserveActiveJob', { numberOfKeys: 1, lua: RESERVE });
  return Number(await r.tsnnReserveActiveJob!(activeJobsKey(keys, tenant), keys.prefix, jobId, max, Date.now()));
}
