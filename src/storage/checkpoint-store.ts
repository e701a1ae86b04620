import { deserialize, serialize } from 'node:v8';
import type { Redis } from 'ioredis';
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
    private readonly redis: Redis,
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
}
