import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { blobConfigEnv, childProcessEnv, type BlobConfig, type Config } from '../src/config.js';
import { createRedisClient, type RedisClient } from '../src/queue/connection.js';
import { reliabilityEnv, reliabilityOf, type ReliabilityConfig } from '../src/queue/reliability-config.js';
import { TrainingQueue, type TrainingJobData } from '../src/queue/training-queue.js';
import { WebhookQueue } from '../src/queue/webhook-queue.js';
import { TERMINAL_STATUSES } from '../src/schemas/job.js';
import { createBlobStore, type BlobStore } from '../src/storage/blobs/index.js';
import { JobStore } from '../src/storage/job-store.js';
import { keysFor } from '../src/storage/keys.js';
import { sweepKeys } from '../src/storage/retention.js';
import { SweepStore } from '../src/storage/sweep-store.js';
import { ThroughputStore } from '../src/storage/throughput-store.js';
import { hostname } from 'node:os';
import { SweepScheduler } from '../src/sweeps/scheduler.js';

/** Config the worker reads. */
export type WorkerConfig = Pick<Config, 'REDIS_URL' | 'QUEUE_NAME' | 'QUEUE_PREFIX' | 'KEY_PREFIX' | 'WORKER_CONCURRENCY'> &
  BlobConfig &
  Partial<ReliabilityConfig> &
  Partial<Pick<Config, 'TRAINING_WASM_FMA' | 'LOG_LEVEL'>> &
  Partial<Pick<Config, 'WEBHOOK_QUEUE_NAME' | 'WEBHOOK_RETRY_SCHEDULE' | 'WEBHOOK_PROGRESS_INTERVAL_MS' | 'JOB_ATTEMPTS' | 'MAX_ACTIVE_JOBS_PER_TENANT' | 'REDIS_CLUSTER_NODES'>>;

/** How often a worker reconciles every running sweep (a safety net: trial ends already trigger it). */
const SWEEP_RECONCILE_MS = 5000;

/**
 * Node flags of the trainer children. Node 20 runs WebAssembly relaxed SIMD (the fused
 * multiply-add kernels, ~1.2x faster training: bench/RESULTS.md) only behind a V8 flag that
 * NODE_OPTIONS refuses, so it goes on the children's command line unless TRAINING_WASM_FMA=false.
 * Node 22+ has relaxed SIMD on by default and needs no flag.
 */
export function trainerNodeFlags(config: Partial<Pick<Config, 'TRAINING_WASM_FMA'>>): string[] {
  if (config.TRAINING_WASM_FMA === false) return [];
  // Decided by the Node version, not by this process: its own flags say nothing of the child's.
  if (Number(process.versions.node.split('.')[0]) >= 22) return [];
  return ['--experimental-wasm-relaxed-simd'];
}

/** The sandboxed processor next to this file: `.ts` under tsx, `.js` when compiled. */
function processorFile(config: Partial<Pick<Config, 'TRAINING_WASM_FMA'>>): { file: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './processor.ts' : './processor.js', import.meta.url));
  // A .ts child needs the tsx loader whatever flags this process was started with (e.g. under vitest).
  return { file, execArgv: [...trainerNodeFlags(config), ...(ts ? ['--import', import.meta.resolve('tsx')] : [])] };
}

/**
 * A BullMQ Worker on the training queue whose jobs run in child processes. When a job fails for
 * the last time for a reason the child could not record (it crashed), the parent records it.
 * Stalled-job recovery is tuned by WORKER_LOCK_DURATION_MS / WORKER_STALLED_INTERVAL_MS and
 * allows WORKER_MAX_STALLED_COUNT recoveries, so a job whose worker died resumes elsewhere.
 */
export class TrainingWorker {
  readonly worker: Worker<TrainingJobData>;
  readonly reliability: ReliabilityConfig;
  private readonly connection: RedisClient;
  private readonly storeRedis: RedisClient;
  private readonly sweeper: NodeJS.Timeout;
  private readonly webhooks: WebhookQueue;
  private readonly sweepReconciler: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly throughput: ThroughputStore;
  private readonly workerId = `${hostname()}:${process.pid}`;
  private readonly queueRedis: RedisClient;
  private readonly repairQueue: TrainingQueue;
  private readonly schedulers = new Map<string, { scheduler: SweepScheduler; queue: TrainingQueue }>();
  private readonly settling = new Set<Promise<void>>();
  /** For the jobs this process ends itself (a final failure, a pruned trial): their checkpoint blobs go at once. */
  private readonly blobs: BlobStore;

  constructor(config: WorkerConfig, log: (obj: object, msg: string) => void = () => {}, reliability: ReliabilityConfig = reliabilityOf(config)) {
    this.reliability = reliability;
    this.connection = createRedisClient(config, { name: 'tsnn-worker', blocking: true });
    this.storeRedis = createRedisClient(config, { name: 'tsnn-worker-store' });
    this.queueRedis = createRedisClient(config, { name: 'tsnn-worker-queue' });
    this.connection.on('error', () => {});
    this.storeRedis.on('error', () => {});
    this.blobs = createBlobStore(config);
    this.queueRedis.on('error', () => {});
    /** The sweep scheduler of a key prefix (one per deployment sharing this queue). */
    const schedulerFor = (keyPrefix: string): SweepScheduler => {
      let s = this.schedulers.get(keyPrefix);
      if (!s) {
        const keys = keysFor(keyPrefix);
        const queue = new TrainingQueue(this.queueRedis, { name: config.QUEUE_NAME, prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, keyPrefix, backoffMs: reliability.JOB_BACKOFF_MS });
        const jobs = new JobStore(this.storeRedis, keys, { retentionSeconds: reliability.JOB_RETENTION_SECONDS, blobs: this.blobs, inlineMaxBytes: config.BLOB_INLINE_MAX_BYTES });
        const sweeps = new SweepStore(this.storeRedis, keys, { retentionSeconds: reliability.JOB_RETENTION_SECONDS });
        const scheduler = new SweepScheduler({
          redis: this.storeRedis, keys, jobs, sweeps, queue, maxActivePerTenant: config.MAX_ACTIVE_JOBS_PER_TENANT ?? 20, log,
          onSweepEnd: (sweep) => this.webhooks.sweepEnded(sweep, keyPrefix),
        });
        this.schedulers.set(keyPrefix, (s = { scheduler, queue }));
      }
      return s.scheduler;
    };
    /** A trial's job ended: record it and start the next trial of its sweep. */
    const settle = (keyPrefix: string, sweepId: string | undefined) => {
      if (!sweepId) return;
      const p = schedulerFor(keyPrefix)
        .settle(sweepId)
        .catch((err: unknown) => log({ sweepId, err: String(err) }, 'sweep settle failed'))
        .finally(() => this.settling.delete(p));
      this.settling.add(p);
    };
    const { file, execArgv } = processorFile(config);
    this.worker = new Worker<TrainingJobData>(config.QUEUE_NAME, file, {
      connection: this.connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      useWorkerThreads: false,
      lockDuration: reliability.WORKER_LOCK_DURATION_MS,
      stalledInterval: reliability.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: reliability.WORKER_MAX_STALLED_COUNT,
      // The children read datasets from the blob store this config names, and queue progress webhooks where the parent says.
      workerForkOptions: {
        execArgv,
        env: childProcessEnv({
          ...blobConfigEnv(config),
          // the children checkpoint and keep jobs by this worker's settings, whatever the environment says
          ...reliabilityEnv(reliability),
          QUEUE_PREFIX: config.QUEUE_PREFIX,
          // the children log at this worker's level (its validated config), not at whatever the environment says
          ...(config.LOG_LEVEL ? { LOG_LEVEL: config.LOG_LEVEL } : {}),
          WEBHOOK_QUEUE_NAME: config.WEBHOOK_QUEUE_NAME ?? 'webhooks',
          ...(config.WEBHOOK_PROGRESS_INTERVAL_MS !== undefined ? { WEBHOOK_PROGRESS_INTERVAL_MS: String(config.WEBHOOK_PROGRESS_INTERVAL_MS) } : {}),
        }),
      },
    });
    // Children end jobs; this parent publishes the webhook event of every job that ended (an
    // event id per job and status, so a second publish, e.g. by the API, adds nothing).
    this.webhooks = new WebhookQueue(this.storeRedis, {
      name: config.WEBHOOK_QUEUE_NAME ?? 'webhooks',
      prefix: config.QUEUE_PREFIX,
      keyPrefix: config.KEY_PREFIX,
      scheduleMs: config.WEBHOOK_RETRY_SCHEDULE ?? [],
      onError: (err, what) => log({ err: err.message }, `${what} could not be queued`),
    });
    const publishEnded = async (data: TrainingJobData) => {
      const jobs = new JobStore(this.storeRedis, keysFor(data.keyPrefix), { retentionSeconds: reliability.JOB_RETENTION_SECONDS, blobs: this.blobs, inlineMaxBytes: config.BLOB_INLINE_MAX_BYTES });
      const [ended, tenant] = await Promise.all([jobs.get(data.jobId), jobs.tenantOf(data.jobId)]);
      if (ended && tenant !== null && TERMINAL_STATUSES.includes(ended.status)) await this.webhooks.jobFinished(ended, tenant);
    };
    this.worker.on('completed', (job: Job<TrainingJobData>) => void publishEnded(job.data).catch(() => {}));
    this.worker.on('failed', (job: Job<TrainingJobData> | undefined, err: Error) => {
      if (!job) return;
      // BullMQ fails a job outright once it stalled more than WORKER_MAX_STALLED_COUNT times.
      const final = err.name === 'UnrecoverableError' || /stalled more than allowable limit/.test(err.message) || job.attemptsMade >= (job.opts.attempts ?? 1);
      log({ jobId: job.data.jobId, attemptsMade: job.attemptsMade, final, err: err.message }, 'job attempt failed');
      if (!final) return;
      const jobs = new JobStore(this.storeRedis, keysFor(job.data.keyPrefix), { retentionSeconds: reliability.JOB_RETENTION_SECONDS, blobs: this.blobs, inlineMaxBytes: config.BLOB_INLINE_MAX_BYTES });
      void jobs
        .finish(job.data.jobId, ['queued', 'running'], 'failed', { error: { code: 'worker_error', message: err.message } })
        .then(() => publishEnded(job.data))
        .catch(() => {})
        .then(() => settle(job.data.keyPrefix, job.data.sweepId));
    });
    this.worker.on('completed', (job: Job<TrainingJobData>) => settle(job.data.keyPrefix, job.data.sweepId));
    this.worker.on('stalled', (jobId: string) => log({ jobId }, 'job stalled (its worker died); back to wait, it resumes from its checkpoint'));
    this.worker.on('error', (err) => log({ err: err.message }, 'worker error'));
    const keys = keysFor(config.KEY_PREFIX);
    // Retention and repair (src/storage/retention.ts): a queued job that BullMQ lost (its creator
    // crashed between the record and the enqueue) is enqueued again, with the API's attempts.
    this.repairQueue = new TrainingQueue(this.queueRedis, { name: config.QUEUE_NAME, prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, keyPrefix: config.KEY_PREFIX, backoffMs: reliability.JOB_BACKOFF_MS });
    this.repairQueue.queue.on('error', () => {});
    const ensureQueued = (id: string) => this.repairQueue.ensureQueued(id);
    this.sweeper = setInterval(() => void sweepKeys(this.storeRedis, keys, { ensureQueued }).catch(() => {}), reliability.RETENTION_SWEEP_MS).unref();
    // Training slots, for the queue part of estimates (an entry unseen for a minute is ignored).
    this.throughput = new ThroughputStore(this.storeRedis, keys);
    const beat = () => void this.throughput.heartbeat(this.workerId, config.WORKER_CONCURRENCY).catch(() => {});
    beat();
    this.heartbeat = setInterval(beat, 15_000).unref();
    this.sweepReconciler = setInterval(() => void schedulerFor(config.KEY_PREFIX).settleAll().catch(() => {}), SWEEP_RECONCILE_MS).unref();
  }

  /**
   * Graceful stop: takes no new job, aborts the running ones (each is checkpointed and handed
   * back to the queue without using an attempt) and waits up to `graceMs` (default
   * WORKER_SHUTDOWN_TIMEOUT_MS) for that; after it closes hard (the jobs then recover as stalled).
   */
  async close(graceMs = this.reliability.WORKER_SHUTDOWN_TIMEOUT_MS): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.sweepReconciler);
    clearInterval(this.heartbeat);
    await this.throughput.leave(this.workerId).catch(() => {});
    const graceful = this.worker.close();
    this.worker.cancelAllJobs('worker shutting down');
    const timedOut = await Promise.race([graceful.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) await this.worker.close(true);
    await this.webhooks.close().catch(() => {});
    await Promise.allSettled([...this.settling]);
    for (const { queue } of this.schedulers.values()) await queue.close().catch(() => {});
    await this.repairQueue.close().catch(() => {});
    await this.queueRedis.quit().catch(() => {});
    await this.storeRedis.quit().catch(() => {});
    await this.connection.quit().catch(() => {});
    await this.blobs.close().catch(() => {});
  }
}
