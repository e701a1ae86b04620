import type { Redis } from 'ioredis';
import { DEFAULT_QUEUE_PREFIX, type Keys } from './keys.js';

/** The BullMQ prefix before hash tags (the default until keys were hash-tagged). */
export const LEGACY_QUEUE_PREFIX = 'bull';

/** Version of the key layout; `<prefix>keys-version` holds it once a Redis is migrated. */
export const KEYS_VERSION = '2';

/** What {@link migrateLegacyKeys} did. */
export interface KeyMigration {
  /** Job and dataset keys renamed to their hash-tagged names. */
  renamed: number;
  /** BullMQ keys moved from `bull:<queue>:` to `{bull}:<queue>:`. */
  queueKeys: number;
  /** Legacy keys left alone because the new name already existed. */
  skipped: number;
}

/**
 * Renames the keys a single Redis holds under the names used before hash tags (`job:<id>…`,
 * `ds:<id>…`, and BullMQ's `bull:<queue>:…` when QUEUE_PREFIX is the new default `{bull}`) to
 * the current names, so an `npm start` user who upgrades keeps datasets, jobs (with events,
 * models, checkpoints, TTLs) and queued work. RENAMENX never overwrites a newer key; running
 * it twice, or from two processes at once, is harmless. Once done it writes
 * `<prefix>keys-version` and later starts skip the SCAN. Run it with the old processes stopped.
 * Only for a single Redis: a cluster never held the old names (they failed there with CROSSSLOT).
 */
export async function migrateLegacyKeys(redis: Redis, keys: Keys, queue: { prefix: string; name: string }): Promise<KeyMigration> {
  const done: KeyMigration = { renamed: 0, queueKeys: 0, skipped: 0 };
  const marker = `${keys.prefix}keys-version`;
  if ((await redis.get(marker)) === KEYS_VERSION) return done;
  const moves: [string, RegExp, (m: RegExpExecArray) => string, keyof KeyMigration][] = [
    [`${keys.prefix}job:*`, /^job:([^{:][^:]*)(:.*)?$/, (m) => `${keys.job(m[1])}${m[2] ?? ''}`, 'renamed'],
    [`${keys.prefix}ds:*`, /^ds:([^{:][^:]*)(:.*)?$/, (m) => `${keys.dataset(m[1])}${m[2] ?? ''}`, 'renamed'],
  ];
  if (queue.prefix === DEFAULT_QUEUE_PREFIX) {
    const legacy = `${LEGACY_QUEUE_PREFIX}:${queue.name}:`;
    moves.push([`${legacy}*`, /^(.*)$/, (m) => `${queue.prefix}:${queue.name}:${m[1]}`, 'queueKeys']);
  }
  for (const [pattern, re, target, counter] of moves) {
    const base = pattern.slice(0, -1);
    const strip = counter === 'queueKeys' ? base : keys.prefix;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern.replace(/[?[\]\\]/g, '\\$&'), 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const m = re.exec(key.slice(strip.length));
        if (!m) continue;
        try {
          if ((await redis.renamenx(key, target(m))) === 1) done[counter]++;
          else done.skipped++;
        } catch {
          // renamed meanwhile by another process (no such key): nothing to do
        }
      }
    } while (cursor !== '0');
  }
  await redis.set(marker, KEYS_VERSION);
  return done;
}
