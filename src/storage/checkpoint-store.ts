import { deserialize, serialize } from 'node:v8';
import type { RedisClient } from '../queue/connection.js';
import type { Checkpoint } from '../core/types.js';
import type { JobEventType } from './event-stream.js';
import type { Keys } from './keys.js';
import { scripted } from './scripts.js';
import { DEFAULT_INLINE_MAX_BYTES, deleteBlobs, newJobBlobKey, putArtifact, readArtifact, type BlobPointer } from './artifact-blobs.js';
import { BlobIntegrityError, type BlobStore } from './blobs/blob-store.js';

/** A kept checkpoint's index entry: its public metadata and, when its bytes are in the blob store, where. */
type KeptEntry = KeptCheckpoint & Partial<BlobPointer>;

/** Options of {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  /** Where checkpoints bigger than `inlineMaxBytes` go. Unset: all stay in Redis. */
  blobs?: BlobStore;
  /** Checkpoints of at most this many bytes stay inline in Redis. Default {@link DEFAULT_INLINE_MAX_BYTES}. */
  inlineMaxBytes?: number;
}

/** A checkpoint as stored: the core's checkpoint and where the job's event stream stood. */
export interface StoredCheckpoint {
  checkpoint: Checkpoint;
  epoch: number;
  step: number;
  /** The attempt that wrote it. */
  attempt: number;
  /** The job's `eventSeq` right after the write. */
  eventSeq: number;
  bytes: number;
}

/** What a running attempt writes in one atomic step; every part is optional. */
export interface OwnedWrite {
  checkpoint?: Checkpoint;
  event?: { type: JobEventType; data: unknown };
  /** New value of the record's `progress` field (JSON text). */
  progress?: string;
  /** New status of the record: `queued` when the attempt hands the job back. */
  status?: 'queued';
}

/** What `GET /v1/jobs/{id}/checkpoints` lists of a kept epoch-end checkpoint. */
export interface KeptCheckpoint {
  /** Epochs finished when it was taken (resuming runs epoch `epoch` next, 0-based). */
  epoch: number;
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  bytes: number;
  createdAt: string;
}

/** Raised when a write is refused because another attempt owns the job now (or it ended). */
export class JobFencedError extends Error {
  override name = 'JobFencedError';
  constructor(
    readonly jobId: string,
    readonly attempt: number,
  ) {
    super(`job '${jobId}' is no longer owned by attempt ${attempt}`);
  }
}

/**
 * Checkpoints of running jobs (`job:{id}:checkpoint`, a hash holding the `v8.serialize`d core
 * checkpoint, or for a big net the pointer to its blob) and every other write a running attempt
 * makes, fenced by the attempt number so a worker that lost its job (stalled, then handed to
 * another) can no longer write anything. A checkpoint blob is written first under a key unique
 * to the attempt; the fenced script then commits the pointer (artifact-blobs.ts).
 */
export class CheckpointStore {
  private readonly r;
  readonly blobs: BlobStore | undefined;
  readonly inlineMaxBytes: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    opts: CheckpointStoreOptions = {},
  ) {
    this.r = scripted(redis);
    this.blobs = opts.blobs;
    this.inlineMaxBytes = opts.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
  }

  /**
   * Checkpoint bytes of job `id` bigger than `inlineMaxBytes`: written to the blob store under a
   * new key of their own, whose pointer the caller then commits. Null: they stay inline in Redis.
   */
  private async putIfBig(id: string, kind: 'ckpt' | `kept-${number}`, attempt: number | string, data: Uint8Array): Promise<BlobPointer | null> {
    if (!this.blobs || data.length <= this.inlineMaxBytes) return null;
    return putArtifact(this.blobs, newJobBlobKey(this.keys.jobBlobs(id), kind, attempt), data);
  }

  /** The checkpoint bytes a hash or index entry points at, or null when the blob is gone or damaged. */
  private async readBlob(p: BlobPointer): Promise<Buffer | null> {
    if (!this.blobs) throw new Error(`checkpoint '${p.blob}' is in the blob store, and this process has none`);
    try {
      return await readArtifact(this.blobs, p);
    } catch (err) {
      if (err instanceof BlobIntegrityError) return null;
      throw err; // unavailable: the worker retries later
    }
  }

  /**
   * Writes checkpoint, event and progress of job `id` atomically while `attempt` owns it.
   * Returns the event sequence after the write.
   * @throws JobFencedError when the job is not running under `attempt`.
   */
  async write(id: string, attempt: number, w: OwnedWrite): Promise<number> {
    const c = w.checkpoint;
    const data = c ? serialize(c) : null;
    // Big: the blob first (an outage throws BlobStoreUnavailableError: the worker retries the job later).
    const p = data ? await this.putIfBig(id, 'ckpt', attempt, data) : null;
    const [seq, replaced] = await this.r.tsnnOwnedWrite(
      this.keys.job(id),
      this.keys.jobEvents(id),
      this.keys.jobCheckpoint(id),
      String(attempt),
      data && !p ? data : '',
      String(c?.epoch ?? 0),
      String(c?.step ?? 0),
      w.event?.type ?? '',
      w.event ? JSON.stringify(w.event.data) : '',
      w.progress ?? '',
      w.status ?? '',
      p?.blob ?? '',
      p?.sha256 ?? '',
      String(p?.bytes ?? 0),
    );
    if (Number(seq) < 0) {
      await deleteBlobs(this.blobs, [p?.blob]);
      throw new JobFencedError(id, attempt);
    }
    await deleteBlobs(this.blobs, [replaced]);
    return Number(seq);
  }

  /** The last checkpoint of job `id`, or null (none, or unreadable: then it is deleted). */
  async load(id: string): Promise<StoredCheckpoint | null> {
    const key = this.keys.jobCheckpoint(id);
    const [inline, epoch, step, attempt, eventSeq, blob, sha256, bytes] = await this.redis.hmgetBuffer(key, 'data', 'epoch', 'step', 'attempt', 'eventSeq', 'blob', 'sha256', 'bytes');
    const p = blob && blob.length > 0 ? { blob: blob.toString(), sha256: String(sha256), bytes: Number(bytes) } : null;
    const data = p ? await this.readBlob(p) : inline;
    if (!data || data.length === 0) {
      if (p) await this.delete(id);
      return null;
    }
    try {
      const checkpoint = deserialize(data) as Checkpoint;
      if (checkpoint?.version !== 1) throw new Error('unknown checkpoint version');
      return { checkpoint, epoch: Number(epoch), step: Number(step), attempt: Number(attempt), eventSeq: Number(eventSeq), bytes: data.length };
    } catch {
      await this.delete(id);
      return null;
    }
  }

  /** Deletes the checkpoint of job `id` (and its blob). */
  async delete(id: string): Promise<void> {
    const key = this.keys.jobCheckpoint(id);
    const [[, blob]] = (await this.redis.multi().hget(key, 'blob').del(key).exec()) as [[Error | null, string | null], unknown];
    await deleteBlobs(this.blobs, [blob]);
  }

  /**
   * Keeps the epoch-end checkpoint `c` (step 0) of job `id` as an artifact, then prunes the kept
   * ones to the last `keep` epochs plus the best (lowest validation loss, else training loss).
   * Each kept key expires after `ttlSeconds` (the job's retention), counted from its write.
   */
  async keep(id: string, c: Checkpoint, keep: number, ttlSeconds: number): Promise<void> {
    if (c.step !== 0 || c.epoch === 0 || keep < 1) return;
    const m = c.history[c.history.length - 1];
    const data = serialize(c);
    const meta: KeptCheckpoint = {
      epoch: c.epoch,
      loss: m?.loss ?? NaN,
      ...(m?.valLoss !== undefined ? { valLoss: m.valLoss } : {}),
      ...(m?.accuracy !== undefined ? { accuracy: m.accuracy } : {}),
      ...(m?.valAccuracy !== undefined ? { valAccuracy: m.valAccuracy } : {}),
      bytes: data.length,
      createdAt: new Date().toISOString(),
    };
    const index = this.keys.jobKeptCheckpoints(id);
    const slot = this.keys.jobKeptCheckpoint(id, c.epoch);
    // Big: the blob first, under a key of its own; the index entry then points at it.
    const p = await this.putIfBig(id, `kept-${c.epoch}`, 'x', data);
    const entry: KeptEntry = p ? { ...meta, blob: p.blob, sha256: p.sha256 } : meta;
    const tx = this.redis.multi().hget(index, String(c.epoch));
    if (p) tx.unlink(slot);
    else tx.set(slot, data, 'EX', ttlSeconds);
    const res = await tx.hset(index, String(c.epoch), JSON.stringify(entry)).expire(index, ttlSeconds).exec();
    // The same epoch kept again (a retried attempt): the blob of the entry it replaced is orphaned.
    const before = res?.[0]?.[1] ? (JSON.parse(res[0][1] as string) as KeptEntry) : null;
    if (before?.blob && before.blob !== p?.blob) await deleteBlobs(this.blobs, [before.blob]);
    const all = await this.listEntries(id);
    const score = (k: KeptCheckpoint) => k.valLoss ?? k.loss;
    const best = all.reduce<KeptEntry | null>((b, k) => (b === null || score(k) < score(b) ? k : b), null);
    const drop = all.slice(0, Math.max(0, all.length - keep)).filter((k) => k !== best);
    if (drop.length > 0) {
      await this.redis
        .multi()
        .hdel(index, ...drop.map((k) => String(k.epoch)))
        .unlink(...drop.map((k) => this.keys.jobKeptCheckpoint(id, k.epoch)))
        .exec();
      // Pruned: their blobs go with them (after the index stopped naming them).
      await deleteBlobs(this.blobs, drop.map((k) => k.blob));
    }
  }

  /** The index entries of job `id`'s kept checkpoints, oldest epoch first. */
  private async listEntries(id: string): Promise<KeptEntry[]> {
    const h = await this.redis.hgetall(this.keys.jobKeptCheckpoints(id));
    return Object.values(h)
      .map((v) => JSON.parse(v) as KeptEntry)
      .sort((a, b) => a.epoch - b.epoch);
  }

  /** The kept checkpoints of job `id`, oldest epoch first. */
  async listKept(id: string): Promise<KeptCheckpoint[]> {
    return (await this.listEntries(id)).map(({ blob: _b, sha256: _s, ...k }) => k);
  }

  /** The kept checkpoint of job `id` after `epoch` finished epochs, or null. */
  async loadKept(id: string, epoch: number): Promise<Checkpoint | null> {
    const entry = await this.redis.hget(this.keys.jobKeptCheckpoints(id), String(epoch));
    const e = entry ? (JSON.parse(entry) as KeptEntry) : null;
    const data = e?.blob && e.sha256 ? await this.readBlob({ blob: e.blob, sha256: e.sha256, bytes: e.bytes }) : await this.redis.getBuffer(this.keys.jobKeptCheckpoint(id, epoch));
    if (!data) return null;
    const c = deserialize(data) as Checkpoint;
    return c?.version === 1 ? c : null;
  }

  /**
   * Makes `c` the checkpoint job `id` starts from (a new job continuing another's training): the
   * worker then resumes from it as from its own. Written before the job is queued.
   */
  async seed(id: string, c: Checkpoint): Promise<void> {
    const data = serialize(c);
    const key = this.keys.jobCheckpoint(id);
    const p = await this.putIfBig(id, 'ckpt', 0, data);
    const fields = p ? ['blob', p.blob, 'sha256', p.sha256, 'bytes', String(p.bytes)] : ['data', data];
    await this.redis.hset(key, ...fields, 'epoch', String(c.epoch), 'step', String(c.step), 'attempt', '0', 'eventSeq', '1');
  }
}
