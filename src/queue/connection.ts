import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

/**
 * A connection to the service's Redis: one node (`Redis`) or a Redis Cluster (`Cluster`). The
 * same code runs on both: keys carry hash tags (src/storage/keys.ts), every script and MULTI
 * touches one slot, and what must reach every node (SCAN, blocking stream reads) goes through
 * {@link masters} or the event hub's per-slot readers.
 */
export type RedisClient = Redis | Cluster;

/** Where Redis is: `REDIS_URL`, or the seed nodes of a cluster (`REDIS_CLUSTER_NODES`). */
export interface RedisTarget {
  REDIS_URL: string;
  /** `host:port,host:port,…`; when set, the service uses Redis Cluster and ignores REDIS_URL. */
  REDIS_CLUSTER_NODES?: string;
}

/** Parses `host:port,host:port` (spaces allowed); throws on a malformed entry. */
export function parseClusterNodes(list: string): ClusterNode[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
      const port = m ? Number(m[2]) : NaN;
      if (!m || port < 1 || port > 65535) throw new Error(`'${entry}' is not host:port`);
      return { host: m[1].replace(/^\[|\]$/g, ''), port };
    });
}

/** True when `r` is a cluster client. */
export function isCluster(r: RedisClient): r is Cluster {
  return (r as Cluster).isCluster === true;
}

/**
 * The connections to run a per-node command on (SCAN, INFO): every master of a cluster, or `r`
 * itself. The cluster's slot map is refreshed first: ioredis drops a node that went away from its
 * pool and only takes it back at the next refresh, so a restarted master would be missed.
 */
export async function masters(r: RedisClient): Promise<Redis[]> {
  if (!isCluster(r)) return [r];
  await new Promise<void>((resolve) => r.refreshSlotsCache(() => resolve()));
  return r.nodes('master');
}

/**
 * A new connection like `r` (same target and options, another name), e.g. for blocking reads or
 * pub/sub, which must not share the command connection.
 */
export function duplicateClient(r: RedisClient, opts: { name?: string; blocking?: boolean } = {}): RedisClient {
  const common = { connectionName: opts.name, ...(opts.blocking ? { maxRetriesPerRequest: null } : {}) };
  if (isCluster(r)) return r.duplicate(undefined, { redisOptions: { ...r.options.redisOptions, ...common } });
  return r.duplicate(common);
}

/**
 * One connection to the service's Redis (`target`: a URL, or a config with REDIS_URL and
 * REDIS_CLUSTER_NODES); the caller owns it and must `quit()` it.
 */
export function createRedisClient(target: string | RedisTarget, opts: RedisConnectionOptions = {}): RedisClient {
  const t = typeof target === 'string' ? { REDIS_URL: target } : target;
  if (!t.REDIS_CLUSTER_NODES) return createRedis(t.REDIS_URL, opts);
  return new Cluster(parseClusterNodes(t.REDIS_CLUSTER_NODES), {
    // BullMQ needs maxRetriesPerRequest null on the node connections of a blocking client.
    redisOptions: { connectionName: opts.name, maxRetriesPerRequest: opts.blocking ? null : 3, enableReadyCheck: true, ...opts.extra },
    enableReadyCheck: true,
    // Commands wait for the cluster to settle (failover, restart) instead of failing at once.
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
  });
}

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
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  return /Connection is closed|Stream isn't writeable|connect E(CONNREFUSED|TIMEDOUT)|^LOADING|Reached the max retries|Connection in subscriber mode|^CLUSTERDOWN|^TRYAGAIN|None of startup nodes is available|Failed to refresh slots cache|Cluster isn't ready/.test(err.message);
}

/**
 * A warning when Redis's `maxmemory-policy` could evict queue or job keys (anything but
 * `noeviction`), or null. Managed Redis often forbids CONFIG: then null and a debug note.
 */
export async function evictionPolicyWarning(redis: RedisClient): Promise<string | null> {
  let policy: string | undefined;
  try {
    const node = (await masters(redis))[0];
    if (!node) return null;
    const res = (await node.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    policy = res[1];
  } catch {
    return null; // CONFIG forbidden (managed Redis): nothing to check
  }
  if (!policy || policy === 'noeviction') return null;
  return `Redis maxmemory-policy is '${policy}': under memory pressure Redis may evict queued jobs, job records or checkpoints. Set maxmemory-policy noeviction (see docs/reliability.md).`;
}
