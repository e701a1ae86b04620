/**
 * Follows the training queue's BullMQ events (a Redis stream, so it sees jobs finished by any
 * worker) and reports each job that reaches a terminal state once, with the outcome from our
 * job record (`completed`, `failed` or `cancelled`) and its per-epoch history.
 *
 * The stream is polled (`XREAD COUNT`, no BLOCK) every {@link POLL_MS} rather than followed with
 * a blocking read re-issued after every entry: each submit adds two entries (`added`, `waiting`)
 * this tail has no use for, and a blocking follower costs a read per event-loop turn under a
 * burst of submits. Metrics a quarter of a second late are no loss; a non-blocking read also
 * cannot hang on a reconnect.
 */
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
  /** A connection to duplicate (the tail reads on its own connection). */
  redis: RedisClient;
  jobs: JobReader;
  onFinished(outcome: string, history: { durationMs: number }[] | null, samplesPerSecond?: number): void;
  onError?(err: unknown): void;
  /** Milliseconds between two reads of the stream when the last one drained it. Default {@link POLL_MS}. */
  pollMs?: number;
}

/** Default pause between two reads of the events stream. */
export const POLL_MS = 250;
/** Entries read at most per XREAD (a full batch is followed by the next read at once). */
const BATCH = 1000;

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'pruned']);
/** BullMQ events after which a job may have reached its terminal record status. */
const ENDING = new Set(['completed', 'failed', 'removed']);

type StreamReply = [string, [string, string[]][]][] | null;

export class JobOutcomeTail {
  private readonly connection: RedisClient;
  /** BullMQ's events stream of the queue (`<prefix>:<name>:events`). */
  private readonly key: string;
  private readonly seen = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly pollMs: number;
  private closed = false;
  private lastId: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readonly started: Promise<void>;

  constructor(private readonly opts: JobOutcomeTailOptions) {
    const connection = duplicateClient(opts.redis, { name: 'tsnn-ops-events' });
    connection.on('error', (err: unknown) => opts.onError?.(err));
    this.connection = connection;
    this.key = `${opts.prefix}:${opts.queueName}:events`;
    this.pollMs = opts.pollMs ?? POLL_MS;
    this.started = this.start();
    this.started.catch(() => {});
  }

  /** Resolves once the tail knows where the stream ends: jobs that finish from then on are counted. */
  async ready(): Promise<void> {
    await this.started;
  }

  /** The stream's last id now (Prometheus counters start at 0 with the process), then the polling. */
  private async start(): Promise<void> {
    for (;;) {
      try {
        const last = (await this.connection.xrevrange(this.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
        this.lastId = last[0]?.[0] ?? '0-0';
        break;
      } catch (err) {
        if (this.closed) return;
        this.opts.onError?.(err);
        await new Promise((r) => setTimeout(r, 1000));
        if (this.closed) return;
      }
    }
    this.schedule(this.pollMs);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.reading = this.read().then((more) => this.schedule(more ? 0 : this.pollMs));
    }, ms);
  }

  /** One read; true when it returned a full batch (more may be waiting). */
  private async read(): Promise<boolean> {
    let reply: StreamReply;
    try {
      reply = (await this.connection.xread('COUNT', BATCH, 'STREAMS', this.key, this.lastId!)) as StreamReply;
    } catch (err) {
      if (!this.closed) this.opts.onError?.(err);
      return false;
    }
    const entries = reply?.[0]?.[1] ?? [];
    for (const [id, fields] of entries) {
      this.lastId = id;
      let event: string | undefined;
      let jobId: string | undefined;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === 'event') event = fields[i + 1];
        else if (fields[i] === 'jobId') jobId = fields[i + 1];
      }
      if (event && jobId && ENDING.has(event)) this.track(this.settle(jobId));
    }
    return entries.length === BATCH;
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
    clearTimeout(this.timer);
    // A read in flight fails at once (and is not reported); nothing of the tail waits on Redis.
    this.connection.disconnect();
    await this.reading;
    await Promise.allSettled([...this.pending]);
  }
}
