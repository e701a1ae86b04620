import type { SandboxedJob } from 'bullmq';
import pino from 'pino';
import { createRedis } from '../src/queue/connection.js';
import type { TrainingJobData } from '../src/queue/training-queue.js';
import { DatasetStore } from '../src/storage/dataset-store.js';
import { JobStore } from '../src/storage/job-store.js';
import { keysFor } from '../src/storage/keys.js';
import { CancelRegistry } from './cancel-registry.js';
import { runTrainingJob, type RunContext } from './run-job.js';

/*
 * BullMQ sandboxed processor: runs in a child process of the worker, so a CPU-bound training
 * loop never delays the parent's lock renewal, and WORKER_CONCURRENCY children train in parallel.
 * The child keeps its Redis connections across jobs (the pool reuses children).
 */

const contexts = new Map<string, RunContext>();
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { proc: 'trainer', pid: process.pid } });

function contextFor(keyPrefix: string): RunContext {
  let ctx = contexts.get(keyPrefix);
  if (!ctx) {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = createRedis(url, { name: 'tsnn-trainer' });
    const keys = keysFor(keyPrefix);
    ctx = {
      jobs: new JobStore(redis, keys),
      datasets: new DatasetStore(redis, keys),
      cancels: new CancelRegistry(createRedis(url, { name: 'tsnn-cancel', blocking: true }), keys.cancelChannel()),
      progressIntervalMs: Number(process.env.PROGRESS_INTERVAL_MS ?? 100),
      log: (obj, msg) => logger.info(obj, msg),
    };
    contexts.set(keyPrefix, ctx);
  }
  return ctx;
}

export default async function trainingProcessor(job: SandboxedJob<TrainingJobData>): Promise<string> {
  const ctx = contextFor(job.data.keyPrefix);
  return runTrainingJob(ctx, job.data.jobId, { attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1 });
}
