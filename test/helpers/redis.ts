import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';
import { LocalBlobStore } from '../../src/storage/blobs/local-store.js';

export const redisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses: `t-<name>-<random>:`. */
export const uniquePrefix = (name: string) => `t-${name}-${randomBytes(4).toString('hex')}:`;

/** The BullMQ queue prefix of the test with key prefix `prefix` (what {@link testConfig} sets). */
export const testQueuePrefix = (prefix: string) => `${prefix}bull`;

/** `KEY_PREFIX` and `QUEUE_PREFIX` of the test with key prefix `prefix`: the environment its API and worker processes share. */
export const prefixEnv = (prefix: string) => ({ KEY_PREFIX: prefix, QUEUE_PREFIX: testQueuePrefix(prefix) });

/** The local blob directory of the test with key prefix `prefix` (removed by {@link deletePrefix}). */
export const testBlobDir = (prefix: string) => join(tmpdir(), 'tsnn-test-blobs', prefix.replace(/[^A-Za-z0-9_-]/g, ''));

/** A local blob store in {@link testBlobDir}: what a test app on `prefix` uses. */
export const testBlobStore = (prefix: string) => new LocalBlobStore(testBlobDir(prefix));

/** Config for a test: unique key and queue prefixes, blobs in a temp dir of its own, quiet logs; `overrides` win. */
export function testConfig(prefix: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: redisUrl(),
    KEY_PREFIX: prefix,
    QUEUE_PREFIX: testQueuePrefix(prefix),
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: '1',
    DATA_DIR: testBlobDir(prefix),
    BLOB_CACHE_DIR: join(testBlobDir(prefix), 'cache'),
    BLOB_STORE: 'local',
    // `BLOB_INLINE_MAX_BYTES=0 npx vitest run …` sends every model and checkpoint through the blob store.
    ...(process.env.BLOB_INLINE_MAX_BYTES ? { BLOB_INLINE_MAX_BYTES: process.env.BLOB_INLINE_MAX_BYTES } : {}),
    ...overrides,
  });
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSHDB on a shared Redis) and the test's blob directory. */
export async function deletePrefix(prefix: string): Promise<number> {
  rmSync(testBlobDir(prefix), { recursive: true, force: true });
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
