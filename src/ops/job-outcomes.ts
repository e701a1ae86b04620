/**
 * Follows the training queue's BullMQ events (a Redis stream, so it sees jobs finished by any
 * worker) and reports each job that reaches a terminal state once, with the outcome from our
 * job record (`completed`, `failed` or `cancelled`) and its per-epoch history.
 */
import { QueueEvents } from 'bullmq';
import { duplicateClient, type RedisClient } from '../queue/connection.js';

/** What the tail needs from the job store (structural, so ops doesn't import the API). */
export interface JobReader {
  get(id: string): Promise<{ status: string; result?: { samplesPerSecond?: number } } | null>;
  getMetrics(id: string): Promise<{ durationMs: number }[] | null>;
}

export interface JobOutcomeTailOptions {
  queueName: string;
  /** BullMQ key prefix. */
  prefix: string;
  /** A connection to duplicate (the tail blocks on its own connection). */
  redis: RedisClient;
  jobs: JobReader;
  onFinished(outcome: string, history: { durationMs: number }[] | null, samplesPerSecond?: number): void;
  onError?(err: unknown): void;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'pruned']);

export class JobOutcomeTail {
  private readonly events: QueueEvents;
  private readonly connection: RedisClient;
  private readonly seen = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: JobOutcomeTailOptions) {
    const connection = duplicateClient(opts.redis, { blocking: true, name: 'tsnn-ops-events' });
    connection.on('error', (err: unknown) => opts.onError?.(err));
    this.connection = connection;
    // '$': count jobs that finish from now on (Prometheus counters start at 0 with the process)
    this.events = new QueueEvents(opts.queueName, { connection, prefix: opts.prefix, autorun: true, lastEventId: '$' });
    this.events.on('error', (err) => opts.onError?.(err));
    for (const ev of ['completed', 'failed', 'removed'] as const) {
      this.events.on(ev, ({ jobId }: { jobId: string }) => this.track(this.settle(jobId)));
    }
  }

  /** Resolves when the tail is connected and listening. */
  async ready(): Promise<void> {
    await this.events.waitUntilReady();
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }

  /** Reads the record (retrying briefly: the worker may still be writing it) and reports it once. */
  private async settle(jobId: string): Promise<void> {
    for (let attempt = 0; attempt < 10 && !this.closed; attempt++) {
      if (this.seen.has(jobId)) return;
      try {
        const job = await this.opts.jobs.get(jobId);
        if (!job) return;
        if (TERMINAL.has(job.status)) {
          this.seen.add(jobId);
          if (this.seen.size > 10_000) this.seen.delete(this.seen.values().next().value!);
          const history = job.status === 'completed' ? await this.opts.jobs.getMetrics(jobId) : null;
          // Throughput of completed jobs only: a cancelled job now keeps a partial result too.
          this.opts.onFinished(job.status, history, job.status === 'completed' ? job.result?.samplesPerSecond : undefined);
          return;
        }
      } catch (err) {
        this.opts.onError?.(err);
      }
      // a failed attempt that BullMQ retries leaves the record non-terminal: stop after ~2.5 s
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    // close() waits for Redis; when Redis is gone, give up after 2 s and drop the socket
    let timer: NodeJS.Timeout | undefined;
    if (this.connection.status === 'ready') await Promise.race([this.events.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.connection.disconnect();
  }
}
