import { DelayedError, WaitingError, type SandboxedJob } from 'bullmq';
import pino from 'pino';
import { loadBlobConfig, loadTrainerConfig } from '../src/config.js';
import { createRedisClient } from '../src/queue/connection.js';
import { WebhookQueue } from '../src/queue/webhook-queue.js';
import { loadReliabilityConfig } from '../src/queue/reliability-config.js';
import type { TrainingJobData } from '../src/queue/training-queue.js';
import { CheckpointStore } from '../src/storage/checkpoint-store.js';
import { createBlobStore } from '../src/storage/blobs/index.js';
import { DatasetStore } from '../src/storage/dataset-store.js';
import { JobStore } from '../src/storage/job-store.js';
import { keysFor } from '../src/storage/keys.js';
import { SweepStore } from '../src/storage/sweep-store.js';
import { ThroughputStore } from '../src/storage/throughput-store.js';
import { trainingCost } from '../src/core/cost.js';
import type { TrainingSpec } from '../src/core/types.js';
import { hostname } from 'node:os';
import { CancelRegistry } from './cancel-registry.js';
import { CoreBudget } from './core-budget.js';
import { runTrainingJob, type RunContext } from './run-job.js';

/*
 * BullMQ sandboxed processor: runs in a child process of the worker, so a CPU-bound training
 * loop never delays the parent's lock renewal, and WORKER_CONCURRENCY children train in parallel.
 * The child keeps its Redis connections across jobs (the pool reuses children).
 */

const contexts = new Map<string, RunContext>();
// Every setting from validated config (src/config.ts): an empty variable is unset, as in the worker.
const trainer = loadTrainerConfig();
const logger = pino({ level: trainer.LOG_LEVEL, base: { proc: 'trainer', pid: process.pid } });
const reliability = loadReliabilityConfig();
// The worker passes its validated blob settings to this child's environment (training-worker.ts).
// Blobs are read through the worker-local disk cache (s3 store), shared by all trainer children.
const blobConfig = loadBlobConfig();
const blobs = createBlobStore(blobConfig, { cache: true });
// Shared with the other children of the same worker process: idle cores go to the jobs that run.
const budget = CoreBudget.forWorker(trainer.TRAINING_MAX_THREADS);

// A signal to this process (Ctrl-C reaches the whole process group) checkpoints and hands back
// the running job; BullMQ's own handler then exits once the job function returns.
const shutdown = new AbortController();
process.once('SIGTERM', () => shutdown.abort());
process.once('SIGINT', () => shutdown.abort());
// The worker process is gone (killed): stop at once rather than train a job nobody holds.
process.once('disconnect', () => process.exit(1));

function contextFor(keyPrefix: string): RunContext {
  let ctx = contexts.get(keyPrefix);
  if (!ctx) {
    // The worker's environment (this child inherits it): REDIS_URL, or REDIS_CLUSTER_NODES for a cluster.
    const target = { REDIS_URL: trainer.REDIS_URL, REDIS_CLUSTER_NODES: trainer.REDIS_CLUSTER_NODES };
    // Commands wait through a Redis outage (training pauses at its next write) instead of failing the attempt.
    const redis = createRedisClient(target, { name: 'tsnn-trainer', blocking: true });
    redis.on('error', () => {});
    const keys = keysFor(keyPrefix);
    ctx = {
      // Big models and checkpoints go to the blob store (docs/storage.md), small ones stay in Redis.
      jobs: new JobStore(redis, keys, { retentionSeconds: reliability.JOB_RETENTION_SECONDS, blobs, inlineMaxBytes: blobConfig.BLOB_INLINE_MAX_BYTES }),
      datasets: new DatasetStore(redis, keys, blobs),
      checkpoints: new CheckpointStore(redis, keys, { blobs, inlineMaxBytes: blobConfig.BLOB_INLINE_MAX_BYTES }),
      sweeps: new SweepStore(redis, keys, { retentionSeconds: reliability.JOB_RETENTION_SECONDS }),
      throughput: new ThroughputStore(redis, keys),
      cancels: new CancelRegistry(createRedisClient(target, { name: 'tsnn-cancel', blocking: true }), keys.cancelChannel()),
      progressIntervalMs: trainer.PROGRESS_INTERVAL_MS,
      checkpointIntervalMs: reliability.CHECKPOINT_INTERVAL_MS,
      checkpointsKept: trainer.CHECKPOINTS_KEPT,
      // job.progress webhooks go straight to the webhook queue the worker process (parent) named.
      webhooks: new WebhookQueue(redis, {
        name: trainer.WEBHOOK_QUEUE_NAME,
        prefix: trainer.QUEUE_PREFIX,
        keyPrefix,
        scheduleMs: [],
        onError: (err, what) => logger.warn({ err: err.message }, `${what} could not be queued`),
      }),
      webhookProgressIntervalMs: trainer.WEBHOOK_PROGRESS_INTERVAL_MS,
      log: (obj, msg) => logger.info(obj, msg),
      kernels: trainer.TRAINING_KERNELS,
      budget,
    };
    contexts.set(keyPrefix, ctx);
  }
  return ctx;
}

export default async function trainingProcessor(job: SandboxedJob<TrainingJobData>, token?: string, signal?: AbortSignal): Promise<string> {
  const ctx = contextFor(job.data.keyPrefix);
  const stop = signal ? AbortSignal.any([signal, shutdown.signal]) : shutdown.signal;
  const outcome = await runTrainingJob(ctx, job.data.jobId, { attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1, shutdown: stop });
  if (outcome === 'handed-back') {
    // Straight back to the wait list (no attempt used) so another worker resumes it now, not after the lock lapses.
    await job.moveToWait(token);
    throw new WaitingError();
  }
  if (outcome === 'completed' || outcome === 'pruned') await publishThroughput(ctx, job.data.jobId).catch(() => {});
  if (outcome === 'retry-later') {
    // The blob store is down: back to the queue after a pause, without using an attempt, as often as it takes.
    await job.moveToDelayed(Date.now() + blobConfig.BLOB_RETRY_DELAY_MS, token);
    throw new DelayedError();
  }
  return outcome;
}

/** This trainer's id in the throughput hash: host and process. */
const TRAINER_ID = `${hostname()}:${process.pid}`;

/**
 * Publishes the FLOP/s this trainer reached on a finished job (an epoch's FLOP over its median
 * epoch time), which `?dryRun=true` estimates and `estimatedSeconds` are computed from.
 */
async function publishThroughput(ctx: RunContext, jobId: string): Promise<void> {
  const job = await ctx.jobs.get(jobId);
  const ds = job && (await ctx.datasets.get(job.datasetId));
  if (!job?.result || !ds || !(job.result.durationMs > 0)) return;
  const cost = trainingCost(job.spec as TrainingSpec, ds);
  // The median epoch, not the total: a fresh trainer's first epochs run before the JIT and the
  // WASM kernels warmed up, and would make every later estimate too long.
  const epochs = ((await ctx.jobs.getMetrics(jobId)) ?? []).map((m) => m.durationMs).filter((d) => d > 0).sort((a, b) => a - b);
  const epochMs = epochs.length ? epochs[Math.floor(epochs.length / 2)] : job.result.durationMs / Math.max(1, job.result.epochsRun);
  // What the job took besides its epochs (kernel set-up, preparing the data): a fixed cost per job.
  const overheadMs = job.result.durationMs - epochs.reduce((a, d) => a + d, 0);
  await ctx.throughput?.record(TRAINER_ID, cost.params, cost.flopsPerEpoch, epochMs / 1000, epochs.length ? Math.max(0, overheadMs) / 1000 : undefined);
}
