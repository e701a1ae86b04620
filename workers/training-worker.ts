import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config.js';
import { createRedis } from '../src/queue/connection.js';
import type { TrainingJobData } from '../src/queue/training-queue.js';
import { JobStore } from '../src/storage/job-store.js';
import { keysFor } from '../src/storage/keys.js';

/** Config the worker reads. */
export type WorkerConfig = Pick<Config, 'REDIS_URL' | 'QUEUE_NAME' | 'QUEUE_PREFIX' | 'KEY_PREFIX' | 'WORKER_CONCURRENCY'>;

/** The sandboxed processor next to this file: `.ts` under tsx, `.js` when compiled. */
function processorFile(): { file: string; execArgv?: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './processor.ts' : './processor.js', import.meta.url));
  // A .ts child needs the tsx loader whatever flags this process was started with (e.g. under vitest).
  return ts ? { file, execArgv: ['--import', import.meta.resolve('tsx')] } : { file };
}

/**
 * A BullMQ Worker on the training queue whose jobs run in child processes. When a job fails for
 * the last time for a reason the child could not record (it crashed), the parent records it.
 */
export class TrainingWorker {
  readonly worker: Worker<TrainingJobData>;
  private readonly connection: Redis;
  private readonly storeRedis: Redis;

  constructor(config: WorkerConfig, log: (obj: object, msg: string) => void = () => {}) {
    this.connection = createRedis(config.REDIS_URL, { name: 'tsnn-worker', blocking: true });
    this.storeRedis = createRedis(config.REDIS_URL, { name: 'tsnn-worker-store' });
    const { file, execArgv } = processorFile();
    this.worker = new Worker<TrainingJobData>(config.QUEUE_NAME, file, {
      connection: this.connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      useWorkerThreads: false,
      ...(execArgv ? { workerForkOptions: { execArgv } } : {}),
    });
    this.worker.on('failed', (job: Job<TrainingJobData> | undefined, err: Error) => {
      if (!job) return;
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      log({ jobId: job.data.jobId, attemptsMade: job.attemptsMade, final, err: err.message }, 'job attempt failed');
      if (!final) return;
      const jobs = new JobStore(this.storeRedis, keysFor(job.data.keyPrefix));
      void jobs
        .finish(job.data.jobId, ['queued', 'running'], 'failed', { error: { code: 'worker_error', message: err.message } })
        .catch(() => {});
    });
    this.worker.on('error', (err) => log({ err: err.message }, 'worker error'));
  }

  /** Stops taking jobs; waits up to `graceMs` for running ones, then closes hard (they will be retried). */
  async close(graceMs = 5000): Promise<void> {
    const graceful = this.worker.close();
    const timedOut = await Promise.race([graceful.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) await this.worker.close(true);
    await this.storeRedis.quit().catch(() => {});
    await this.connection.quit().catch(() => {});
  }
}
