/**
 * The Prometheus metrics of the service, in a registry of their own (one per app, so several
 * apps in one process, as in tests, don't collide on prom-client's global registry).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { openSseStreams } from './sse-streams.js';

/** BullMQ states reported as `trainer_queue_jobs{state}`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

/** Reads what the gauges show at scrape time. */
export interface ScrapeSources {
  /** BullMQ `getJobCounts` of the training queue. */
  queueCounts(): Promise<Record<string, number>>;
  /** Sum of the latest samples/s of the jobs running now (from their event streams). */
  runningSamplesPerSecond(): Promise<{ jobs: number; samplesPerSecond: number }>;
}

export interface OpsMetricsOptions {
  /** Also export prom-client's default process metrics (CPU, memory, event loop lag). Default true. */
  defaultMetrics?: boolean;
}

/** Epoch durations from 1 ms to ~1 min. */
export const EPOCH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Request latencies from 1 ms to 10 s. */
export const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class OpsMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly jobsFinished: Counter<'outcome'>;
  readonly epochDuration: Histogram;
  readonly jobSamplesPerSecond: Histogram;

  constructor(sources: ScrapeSources, opts: OpsMetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'trainer_' });
    this.httpDuration = new Histogram({
      name: 'trainer_http_request_duration_seconds',
      help: 'HTTP request latency (SSE streams excluded: they last as long as the job)',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.jobsFinished = new Counter({
      name: 'trainer_jobs_finished_total',
      help: 'Training jobs that reached a terminal state, seen by this API process, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['completed', 'failed', 'cancelled', 'pruned']) this.jobsFinished.inc({ outcome }, 0);
    this.epochDuration = new Histogram({
      name: 'trainer_epoch_duration_seconds',
      help: 'Duration of each training epoch of finished jobs (from their per-epoch history)',
      buckets: EPOCH_BUCKETS,
      registers,
    });
    this.jobSamplesPerSecond = new Histogram({
      name: 'trainer_job_samples_per_second',
      help: 'Training throughput of each completed job (result.samplesPerSecond)',
      buckets: [100, 1000, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000],
      registers,
    });
    new Gauge({
      name: 'trainer_queue_jobs',
      help: 'Jobs in the BullMQ training queue by state (read at scrape time)',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await sources.queueCounts();
        for (const s of QUEUE_STATES) this.set({ state: s }, counts[s] ?? 0);
      },
    });
    // prom-client collects all metrics concurrently: both gauges share one in-flight read
    let inflight: Promise<{ jobs: number; samplesPerSecond: number }> | undefined;
    const readRunning = () => (inflight ??= sources.runningSamplesPerSecond().finally(() => (inflight = undefined)));
    new Gauge({
      name: 'trainer_training_samples_per_second',
      help: 'Current training throughput: sum of the latest samples/s of every running job',
      registers,
      async collect() {
        this.set((await readRunning()).samplesPerSecond);
      },
    });
    new Gauge({
      name: 'trainer_training_jobs_running',
      help: 'Jobs a worker holds right now (BullMQ active)',
      registers,
      async collect() {
        this.set((await readRunning()).jobs);
      },
    });
    new Gauge({
      name: 'trainer_sse_open_streams',
      help: 'Open SSE event streams served by this API process',
      registers,
      collect() {
        this.set(openSseStreams());
      },
    });
  }

  /** Record a finished job: its outcome, each epoch's duration and its throughput. */
  observeFinished(outcome: string, history: { durationMs: number }[] | null, samplesPerSecond?: number): void {
    this.jobsFinished.inc({ outcome });
    for (const e of history ?? []) if (Number.isFinite(e.durationMs)) this.epochDuration.observe(e.durationMs / 1000);
    if (samplesPerSecond !== undefined && Number.isFinite(samplesPerSecond)) this.jobSamplesPerSecond.observe(samplesPerSecond);
  }
}
