import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './connection.js';
import { DEFAULT_QUEUE_PREFIX } from '../storage/keys.js';
import { RELIABILITY_DEFAULTS } from './reliability-config.js';

/** What a BullMQ job of the `training` queue carries: a pointer to our own job record. */
export interface TrainingJobData {
  jobId: string;
  /** Key prefix of the job record and dataset (so one Redis can host isolated deployments). */
  keyPrefix: string;
  /** The sweep the job is a trial of: the worker reconciles that sweep when the job ends. */
  sweepId?: string;
}

/** Options of {@link TrainingQueue}. */
export interface TrainingQueueOptions {
  /** Queue name. Default `training`. */
  name?: string;
  /** BullMQ key prefix. Default `{bull}` ({@link DEFAULT_QUEUE_PREFIX}). */
  prefix?: string;
  /** Attempts for infrastructure failures. Default 3. */
  attempts?: number;
  /** Our key prefix, copied into each job's data. */
  keyPrefix: string;
  /** First retry delay in ms, doubled per attempt. Default `JOB_BACKOFF_MS` (1000). */
  backoffMs?: number;
}

/** What {@link TrainingQueue.sameWrite} gives. */
export interface SameWrite {
  connection: Redis;
  add: (jobId: string) => Promise<string>;
}

/** The producer side of the training queue. */
export class TrainingQueue {
  readonly queue: Queue<TrainingJobData>;
  private readonly attempts: number;
  private readonly keyPrefix: string;
  private readonly backoffMs: number;
  private sameWriteOf: SameWrite | undefined;

  constructor(
    private readonly connection: RedisClient,
    opts: TrainingQueueOptions,
  ) {
    this.queue = new Queue<TrainingJobData>(opts.name ?? 'training', { connection, prefix: opts.prefix ?? DEFAULT_QUEUE_PREFIX });
    this.attempts = opts.attempts ?? 3;
    this.keyPrefix = opts.keyPrefix;
    this.backoffMs = opts.backoffMs ?? RELIABILITY_DEFAULTS.JOB_BACKOFF_MS;
  }

  private data(jobId: string, sweepId?: string): TrainingJobData {
    return { jobId, keyPrefix: this.keyPrefix, ...(sweepId ? { sweepId } : {}) };
  }

  private jobOpts(jobId: string) {
    return {
      jobId,
      attempts: this.attempts,
      backoff: { type: 'exponential', delay: this.backoffMs },
      // Our job records are the source of truth; BullMQ keeps only what it needs.
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    };
  }

  /** Enqueues our job `jobId`; the BullMQ job id is the same id, so a second add is a no-op. */
  async enqueue(jobId: string, opts: { sweepId?: string } = {}): Promise<void> {
    await this.queue.add('train', this.data(jobId, opts.sweepId), this.jobOpts(jobId));
  }

  /**
   * For a caller that sends a command of its own in the same write as an {@link enqueue}: the
   * queue's own connection (the caller defines its scripts on it) and `add`, which issues BullMQ's
   * add at once (`Job.addJob`, synchronously up to the write) and resolves to BullMQ's job id.
   * Null on a cluster (the queue's keys are in a slot of their own).
   */
  async sameWrite(): Promise<SameWrite | null> {
    if (isCluster(this.connection)) return null;
    if (!this.sameWriteOf) {
      const client = await this.queue.backend.client;
      this.sameWriteOf = {
        connection: this.connection,
        add: (jobId) => new Job<TrainingJobData>(this.queue, 'train', this.data(jobId), this.jobOpts(jobId), jobId).addJob(client),
      };
    }
    return this.sameWriteOf;
  }

  /** {@link sameWrite} once known, without waiting (undefined before the first call resolved, or on a cluster). */
  get sameWriteNow(): SameWrite | undefined {
    return this.sameWriteOf;
  }

  /**
   * Enqueues job `jobId` unless BullMQ holds a job of that id (waiting, active, delayed, or kept
   * after it ended); true when it added it. The sweep's repair for a record whose creator crashed
   * before the enqueue.
   */
  async ensureQueued(jobId: string): Promise<boolean> {
    if (await this.queue.getJob(jobId)) return false;
    await this.enqueue(jobId);
    return true;
  }

  /** Removes a job that no worker holds; false when it is active (locked) or gone. */
  async removeWaiting(jobId: string): Promise<boolean> {
    try {
      return (await this.queue.remove(jobId)) === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
