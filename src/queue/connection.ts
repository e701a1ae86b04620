import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link createRedis}. */
export interface RedisConnectionOptions {
  /** Client name shown by `CLIENT LIST`. */
  name?: string;
  /** For BullMQ Workers and blocking readers: retry commands forever (`maxRetriesPerRequest: null`). Default false. */
  blocking?: boolean;
  /** Extra ioredis options. */
  extra?: RedisOptions;
}

/** One ioredis connection to `url`; the caller owns it and must `quit()` it. */
export function createRedis(url: string, opts: RedisConnectionOptions = {}): Redis {
  return new Redis(url, {
    connectionName: opts.name,
    // BullMQ requires null on connections that block; API calls fail fast instead of queueing forever.
    maxRetriesPerRequest: opts.blocking ? null : 3,
    enableReadyCheck: true,
    ...opts.extra,
  });
}

/** Resolves true when something answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * True when `err` means Redis is unreachable (connection refused or closed, retries exhausted,
 * still loading its data) rather than a bug: the API answers 503 with Retry-After for these.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  return /Connection is closed|Stream isn't writeable|connect E(CONNREFUSED|TIMEDOUT)|^LOADING|Reached the max retries|Connection in subscriber mode/.test(err.message);
}

/**
 * A warning when Redis's `maxmemory-policy` could evict queue or job keys (anything but
 * `noeviction`), or null. Managed Redis often forbids CONFIG: then null and a debug note.
 */
export async function evictionPolicyWarning(redis: Redis): Promise<string | null> {
  let policy: string | undefined;
  try {
    const res = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    policy = res[1];
  } catch {
    return null; // CONFIG forbidden (managed Redis): nothing to check
  }
  if (!policy || policy === 'noeviction') return null;
  return `Redis maxmemory-policy is '${policy}': under memory pressure Redis may evict queued jobs, job records or checkpoints. Set maxmemory-policy noeviction (see docs/reliability.md).`;
}
