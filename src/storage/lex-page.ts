import type { RedisClient } from '../queue/connection.js';

/**
 * One page of an index sorted set (all scores 0, members time-ordered ids), newest first.
 * `after` is the last id of the previous page. Returns the ids and the cursor of the next page.
 */
export async function lexPage(
  redis: RedisClient,
  key: string,
  limit: number,
  after?: string,
): Promise<{ ids: string[]; next: string | null }> {
  const max = after ? `(${after}` : '+';
  const ids = await redis.zrevrangebylex(key, max, '-', 'LIMIT', 0, limit + 1);
  const more = ids.length > limit;
  const page = more ? ids.slice(0, limit) : ids;
  return { ids: page, next: more ? page[page.length - 1] : null };
}
