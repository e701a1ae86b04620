import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';

export const redisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses: `t-<name>-<random>:`. */
export const uniquePrefix = (name: string) => `t-${name}-${randomBytes(4).toString('hex')}:`;

/** Config for a test: unique key and queue prefixes, quiet logs; `overrides` win. */
export function testConfig(prefix: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({ REDIS_URL: redisUrl(), KEY_PREFIX: prefix, QUEUE_PREFIX: `${prefix}bull`, LOG_LEVEL: 'silent', WORKER_CONCURRENCY: '1', ...overrides });
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSHDB on a shared Redis). */
export async function deletePrefix(prefix: string): Promise<number> {
  const r = new Redis(redisUrl());
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) n += await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}
