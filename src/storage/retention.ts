import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * Removes from every tenant's job index (and active-job set) the ids whose job record has
 * expired (retention TTL). The record, its events, model, metrics and checkpoint expire together
 * by TTL; only index entries are left behind, and this (or a listing that meets them) removes
 * them. Returns the number of entries removed.
 */
export async function sweepJobIndexes(redis: Redis, keys: Keys): Promise<number> {
  let removed = 0;
  for (const pattern of [keys.patterns.jobIndexes, keys.patterns.activeJobs]) removed += await sweep(redis, keys, pattern);
  return removed;
}

async function sweep(redis: Redis, keys: Keys, pattern: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, indexes] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    cursor = next;
    for (const index of indexes) {
      if ((await redis.type(index)) !== 'zset') continue;
      let from = 0;
      for (;;) {
        const ids = await redis.zrange(index, String(from), String(from + 499));
        if (ids.length === 0) break;
        const pipe = redis.pipeline();
        for (const id of ids) pipe.exists(keys.job(id));
        const exists = (await pipe.exec())!.map(([, n]) => n as number);
        const gone = ids.filter((_, i) => exists[i] === 0);
        if (gone.length) removed += await redis.zrem(index, ...gone);
        from += ids.length - gone.length;
      }
    }
  } while (cursor !== '0');
  return removed;
}
