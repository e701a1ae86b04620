import { deserialize, serialize } from 'node:v8';
import type { RedisClient } from '../queue/connection.js';
import type { Checkpoint } from '../core/types.js';
import type { JobEventType } from './event-stream.js';
import type { Keys } from './keys.js';
import { scripted } from './scripts.js';

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
 * checkpoint) and every other write a running attempt makes, fenced by the attempt number so a
 * worker that lost its job (stalled, then handed to another) can no longer write anything.
 */
export class CheckpointStore {
  private readonly r;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    this.r = scripted(redis);
  }

  /**
   * Writes checkpoint, event and progress of job `id` atomically while `attempt` owns it.
   * Returns the event sequence after the write.
   * @throws JobFencedError when the job is not running under `attempt`.
   */
  async write(id: string, attempt: number, w: OwnedWrite): Promise<number> {
    const c = w.checkpoint;
    const seq = Number(
      await this.r.tsnnOwnedWrite(
        this.keys.job(id),
        this.keys.jobEvents(id),
        this.keys.jobCheckpoint(id),
        String(attempt),
        c ? serialize(c) : '',
        String(c?.epoch ?? 0),
        String(c?.step ?? 0),
        w.event?.type ?? '',
        w.event ? JSON.stringify(w.event.data) : '',
        w.progress ?? '',
        w.status ?? '',
      ),
    );
    if (seq < 0) throw new JobFencedError(id, attempt);
    return seq;
  }

  /** The last checkpoint of job `id`, or null (none, or unreadable: then it is deleted). */
  async load(id: string): Promise<StoredCheckpoint | null> {
    const key = this.keys.jobCheckpoint(id);
    const [data, epoch, step, attempt, eventSeq] = await this.redis.hmgetBuffer(key, 'data', 'epoch', 'step', 'attempt', 'eventSeq');
    if (!data || data.length === 0) return null;
    try {
      const checkpoint = deserialize(data) as Checkpoint;
      if (checkpoint?.version !== 1) throw new Error('unknown checkpoint version');
      return { checkpoint, epoch: Number(epoch), step: Number(step), attempt: Number(attempt), eventSeq: Number(eventSeq), bytes: data.length };
    } catch {
      await this.redis.del(key);
      return null;
    }
  }

  async delete(id: string): Promise<void> {
    await this.redis.del(this.keys.jobCheckpoint(id));
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
    await this.redis
      .multi()
      .set(this.keys.jobKeptCheckpoint(id, c.epoch), data, 'EX', ttlSeconds)
      .hset(index, String(c.epoch), JSON.stringify(meta))
      .expire(index, ttlSeconds)
      .exec();
    const all = await this.listKept(id);
    const score = (k: KeptCheckpoint) => k.valLoss ?? k.loss;
    const best = all.reduce<KeptCheckpoint | null>((b, k) => (b === null || score(k) < score(b) ? k : b), null);
    const drop = all.slice(0, Math.max(0, all.length - keep)).filter((k) => k !== best);
    if (drop.length > 0)
      await this.redis
        .multi()
        .hdel(index, ...drop.map((k) => String(k.epoch)))
        .unlink(...drop.map((k) => this.keys.jobKeptCheckpoint(id, k.epoch)))
        .exec();
  }

  /** The kept checkpoints of job `id`, oldest epoch first. */
  async listKept(id: string): Promise<KeptCheckpoint[]> {
    const h = await this.redis.hgetall(this.keys.jobKeptCheckpoints(id));
    return Object.values(h)
      .map((v) => JSON.parse(v) as KeptCheckpoint)
      .sort((a, b) => a.epoch - b.epoch);
  }

  /** The kept checkpoint of job `id` after `epoch` finished epochs, or null. */
  async loadKept(id: string, epoch: number): Promise<Checkpoint | null> {
    const data = await this.redis.getBuffer(this.keys.jobKeptCheckpoint(id, epoch));
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
    await this.redis.hset(this.keys.jobCheckpoint(id), 'data', data, 'epoch', String(c.epoch), 'step', String(c.step), 'attempt', '0', 'eventSeq', '1');
  }
}
