/**
 * Follows the stream of finished jobs (`keys.jobOutcomes`: one entry `job`, `status` per job
 * that reached a terminal status, written by whichever process finished it, so it sees every
 * worker) and reports each job once, with its outcome and, for a completed job, its per-epoch
 * history and throughput read from our records.
 *
 * The stream is polled (`XREAD COUNT`, no BLOCK) every {@link POLL_MS} rather than followed with
 * a blocking read: metrics a quarter of a second late are no loss, and a non-blocking read cannot
 * hang on a reconnect. (The tail used to follow BullMQ's events stream, which carries two entries
 * per submit that it had no use for: reading and decoding them was ~9 µs of API CPU per
 * `POST /v1/jobs` under `bench:submit`.)
 */
import { duplicateClient, type RedisClient } from '../queue/connection.js';

/** What the tail needs from the job store (structural, so ops doesn't import the API). */
export interface JobReader {
  get(id: string): Promise<{ status: string; result?: { samplesPerSecond?: number } } | null>;
  getMetrics(id: string): Promise<{ durationMs: number }[] | null>;
}

export interface JobOutcomeTailOptions {
  /** Key of the outcomes stream (`keys.jobOutcomes()`). */
  stream: string;
  /** A connection to duplicate (the tail reads on its own connection). */
  redis: RedisClient;
  jobs: JobReader;
  onFinished(outcome: string, history: { durationMs: number }[] | null, samplesPerSecond?: number): void;
  onError?(err: unknown): void;
  /** Milliseconds between two reads of the stream when the last one drained it. Default {@link POLL_MS}. */
  pollMs?: number;
}

/** Default pause between two reads of the stream. */
export const POLL_MS = 250;
/** Entries read at most per XREAD (a full batch is followed by the next read at once). */
const BATCH = 1000;

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'pruned']);

type StreamReply = [string, [string, string[]][]][] | null;

export class JobOutcomeTail {
  private readonly connection: RedisClient;
  /** The outcomes stream. */
  private readonly key: string;
  private readonly pending = new Set<Promise<void>>();
  private readonly pollMs: number;
  private closed = false;
  private lastId: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readonly started: Promise<void>;

  constructor(private readonly opts: JobOutcomeTailOptions) {
    const connection = duplicateClient(opts.redis, { name: 'tsnn-ops-outcomes' });
    connection.on('error', (err: unknown) => opts.onError?.(err));
    this.connection = connection;
    this.key = opts.stream;
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
      let status: string | undefined;
      let jobId: string | undefined;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === 'status') status = fields[i + 1];
        else if (fields[i] === 'job') jobId = fields[i + 1];
      }
      if (status && jobId && TERMINAL.has(status)) this.track(this.settle(jobId, status));
    }
    return entries.length === BATCH;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }

  /**
   * Reports the job; a completed one with its history and throughput from our records. (A job has
   * one entry: only the finish that applied writes one.)
   */
  private async settle(jobId: string, status: string): Promise<void> {
    if (status !== 'completed') return this.opts.onFinished(status, null);
    try {
      const [job, history] = await Promise.all([this.opts.jobs.get(jobId), this.opts.jobs.getMetrics(jobId)]);
      // Throughput of completed jobs only: a cancelled job keeps a partial result too.
      this.opts.onFinished(status, history, job?.result?.samplesPerSecond);
    } catch (err) {
      // Redis failed between the entry and the records: count the outcome without the rest.
      this.opts.onError?.(err);
      this.opts.onFinished(status, null);
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
