import { masters, type RedisClient } from '../queue/connection.js';
import type { Keys } from './keys.js';

/** What one {@link sweepKeys} pass did. */
export interface SweepResult {
  /** Index, reservation and active-job entries removed (their record expired, or the job ended). */
  removed: number;
  /** Index and active-job entries re-added from a record (a crash between two steps left them out). */
  repaired: number;
  /** Queued jobs whose BullMQ job was missing and was added again. */
  requeued: number;
}

/** Options of {@link sweepKeys}. */
export interface SweepOptions {
  /**
   * Makes sure queued job `id` is in the queue (adds it when BullMQ has no job of that id);
   * resolves true when it added it. Unset: queued records are not checked against the queue.
   */
  ensureQueued?: (id: string) => Promise<boolean>;
  /** A queued record younger than this is left alone (its creator is still enqueueing it). Default 60000 ms. */
  queuedGraceMs?: number;
}

const ENDED = new Set(['completed', 'failed', 'cancelled', 'pruned']);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const escapeGlob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

/**
 * One pass over every key of the deployment, on every master of a cluster (SCAN reaches one node
 * only): the job records are the truth, and this brings what points at them in line.
 * - index entries (`job-index`, `active-jobs`, `ds-index`) whose record expired (retention TTL) or
 *   was deleted are removed; the record, its events, model, metrics and checkpoint expire together;
 * - a dataset's active-job set loses the jobs that ended (or are gone);
 * - a job or dataset record missing from its tenant's index, and a queued or running job missing
 *   from its dataset's active-job set, are added back (job creation, dataset creation and a job's
 *   end are idempotent steps on different slots: docs/reliability.md);
 * - with `ensureQueued`, a queued job older than `queuedGraceMs` that BullMQ does not hold is enqueued.
 * Every command touches one key; nothing is pipelined across slots.
 */
export async function sweepKeys(redis: RedisClient, keys: Keys, opts: SweepOptions = {}): Promise<SweepResult> {
  const result: SweepResult = { removed: 0, repaired: 0, requeued: 0 };
  const p = escapeRe(keys.prefix);
  const jobRecord = new RegExp(`^${p}job:\\{([^}]+)\\}$`);
  const dsRecord = new RegExp(`^${p}ds:\\{([^}]+)\\}$`);
  const dsJobs = new RegExp(`^${p}ds:\\{([^}]+)\\}:jobs$`);
  const jobIndexes = [keys.jobIndex(''), keys.activeJobs('')];
  const dsIndex = keys.datasetIndex('');
  const grace = opts.queuedGraceMs ?? 60_000;

  // Keys are handled concurrently: each adds its count after its own awaits (`x += await …` would
  // read x before awaiting and lose the others' updates).
  const handle = async (key: string) => {
    let m: RegExpExecArray | null;
    let removed = 0;
    let repaired = 0;
    if (jobIndexes.some((pre) => key.startsWith(pre))) removed = await pruneIndex(redis, key, keys.job);
    else if (key.startsWith(dsIndex)) removed = await pruneIndex(redis, key, keys.dataset);
    else if (dsJobs.test(key)) removed = await pruneActiveJobs(redis, key, keys);
    else if ((m = jobRecord.exec(key))) {
      const id = m[1];
      const [tenant, status, datasetId, createdAt] = await redis.hmget(key, 'tenant', 'status', 'datasetId', 'createdAt');
      if (!tenant || !status) return;
      repaired += Number(await redis.zadd(keys.jobIndex(tenant), 'NX', 0, id));
      if ((status === 'queued' || status === 'running') && datasetId) repaired += await redis.sadd(keys.datasetActiveJobs(datasetId), id);
      if (status === 'queued' && opts.ensureQueued && Date.now() - Date.parse(createdAt ?? '') > grace && (await opts.ensureQueued(id))) result.requeued++;
    } else if ((m = dsRecord.exec(key))) {
      const tenant = await redis.hget(key, 'tenant');
      if (tenant) repaired = Number(await redis.zadd(keys.datasetIndex(tenant), 'NX', 0, m[1]));
    }
    result.removed += removed;
    result.repaired += repaired;
  };

  for (const node of await masters(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${escapeGlob(keys.prefix)}*`, 'COUNT', 500);
      cursor = next;
      await Promise.all(found.map(handle));
    } while (cursor !== '0');
  }
  return result;
}

/**
 * Removes from every tenant's job index (and active-job reservations, and dataset index) the ids
 * whose record has expired (retention TTL) or was deleted, and repairs what a crash between two
 * steps left out ({@link sweepKeys}). Returns the number of entries removed.
 */
export async function sweepJobIndexes(redis: RedisClient, keys: Keys): Promise<number> {
  return (await sweepKeys(redis, keys)).removed;
}

/** Drops the members of sorted set `index` whose record (`recordKey(id)`) no longer exists. */
async function pruneIndex(redis: RedisClient, index: string, recordKey: (id: string) => string): Promise<number> {
  if ((await redis.type(index)) !== 'zset') return 0;
  let removed = 0;
  let from = 0;
  for (;;) {
    const ids = await redis.zrange(index, String(from), String(from + 499));
    if (ids.length === 0) break;
    const exists = await Promise.all(ids.map((id) => redis.exists(recordKey(id))));
    const gone = ids.filter((_, i) => exists[i] === 0);
    if (gone.length) removed += await redis.zrem(index, ...gone);
    from += ids.length - gone.length;
  }
  return removed;
}

/** Drops from a dataset's active-job set the jobs that ended or are gone. */
async function pruneActiveJobs(redis: RedisClient, key: string, keys: Keys): Promise<number> {
  if ((await redis.type(key)) !== 'set') return 0;
  const members = await redis.smembers(key);
  const statuses = await Promise.all(members.map((id) => redis.hget(keys.job(id), 'status')));
  const stale = members.filter((_, i) => statuses[i] === null || ENDED.has(statuses[i]!));
  return stale.length ? redis.srem(key, ...stale) : 0;
}
