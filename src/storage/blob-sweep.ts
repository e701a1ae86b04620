import type { RedisClient } from '../queue/connection.js';
import type { BlobStore } from './blobs/blob-store.js';
import type { Keys } from './keys.js';
import { modelPointer } from './job-store.js';

/** What one {@link sweepBlobs} pass did. */
export interface BlobSweepResult {
  /** Blobs listed. */
  scanned: number;
  /** Keys deleted: no record references them (or a crashed write's temp file), older than the grace period. */
  deleted: string[];
  /** Unreferenced blobs left because they are younger than the grace period. */
  young: number;
}

/** Options of {@link sweepBlobs}. */
export interface BlobSweepOptions {
  /**
   * An unreferenced blob younger than this is left alone: its writer may be between the blob
   * and the record (an upload of a big dataset, a checkpoint about to be committed).
   */
  graceMs: number;
  /** Clock, for tests. */
  now?: number;
}

const DATASET = /^datasets\/([A-Za-z0-9_-]+)\.bin$/;
const JOB = /^jobs\/([A-Za-z0-9_-]+)\/[^/]+$/;

/**
 * The orphan sweep: every blob of the store (datasets/, jobs/) that no Redis record references,
 * older than `graceMs`, is deleted. What it catches:
 * - a dataset blob whose record was never written (API killed between the two), or whose record
 *   is gone;
 * - the model, checkpoint and kept-checkpoint blobs of a job whose record expired (retention:
 *   Redis TTLs end the record, this ends its blobs) or that lost a write race (fenced, killed
 *   between blob and pointer);
 * - temp files a crashed write left in the local store (`<key>.tmp-<random>`).
 * Referenced means: `ds:{id}` names the key in its `blob` field; for a job, the key is its
 * model's pointer, its checkpoint's `blob`, or the `blob` of one of its kept checkpoints.
 * Every Redis command touches one key (cluster-safe). Only this deployment's folder
 * (`keys.blobFolder`, from KEY_PREFIX) is listed: another deployment sharing the bucket or
 * DATA_DIR, and blobs written before blobs had a folder, are never touched.
 */
export async function sweepBlobs(redis: RedisClient, keys: Keys, blobs: BlobStore, opts: BlobSweepOptions): Promise<BlobSweepResult> {
  const now = opts.now ?? Date.now();
  const result: BlobSweepResult = { scanned: 0, deleted: [], young: 0 };
  const orphan = async (key: string, modifiedAt: number) => {
    if (now - modifiedAt < opts.graceMs) {
      result.young++;
      return;
    }
    await blobs.delete(key);
    result.deleted.push(key);
  };

  const folder = keys.blobFolder;
  const inFolder = (key: string) => key.slice(folder.length);
  for await (const b of blobs.list(`${folder}datasets/`)) {
    result.scanned++;
    const m = DATASET.exec(inFolder(b.key));
    if (!m) {
      if (b.key.includes('.tmp-')) await orphan(b.key, b.modifiedAt);
      continue;
    }
    if ((await redis.hget(keys.dataset(m[1]), 'blob')) !== b.key) await orphan(b.key, b.modifiedAt);
  }

  // Job blobs grouped by job: its references are read once.
  const byJob = new Map<string, { key: string; modifiedAt: number }[]>();
  for await (const b of blobs.list(`${folder}jobs/`)) {
    result.scanned++;
    const m = JOB.exec(inFolder(b.key));
    if (!m) continue;
    let list = byJob.get(m[1]);
    if (!list) byJob.set(m[1], (list = []));
    list.push(b);
  }
  for (const [id, list] of byJob) {
    const refs = await jobBlobRefs(redis, keys, id);
    for (const b of list) if (!refs.has(b.key)) await orphan(b.key, b.modifiedAt);
  }
  return result;
}

/** The blob keys the records of job `id` reference (none once its record is gone). */
export async function jobBlobRefs(redis: RedisClient, keys: Keys, id: string): Promise<Set<string>> {
  const refs = new Set<string>();
  if (!(await redis.exists(keys.job(id)))) return refs;
  const head = await redis.getrange(keys.jobModel(id), 0, 7);
  if (head === '{"blob":') {
    const p = modelPointer(await redis.get(keys.jobModel(id)));
    if (p) refs.add(p.blob);
  }
  const ck = await redis.hget(keys.jobCheckpoint(id), 'blob');
  if (ck) refs.add(ck);
  for (const v of Object.values(await redis.hgetall(keys.jobKeptCheckpoints(id)))) {
    const blob = (JSON.parse(v) as { blob?: string }).blob;
    if (blob) refs.add(blob);
  }
  return refs;
}
