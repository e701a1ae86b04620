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
