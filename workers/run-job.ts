import { UnrecoverableError } from 'bullmq';
import { DivergenceError, InvalidSpecError, TrainingAbortedError, train } from '../src/core/index.js';
import type { DataSet, Progress, TrainingSpec } from '../src/core/types.js';
import type { JobError, JobResult } from '../src/schemas/job.js';
import type { DatasetStore } from '../src/storage/dataset-store.js';
import type { JobStore } from '../src/storage/job-store.js';
import type { CancelRegistry } from './cancel-registry.js';

/** What {@link runTrainingJob} needs: stores, the cancel registry and the event throttle. */
export interface RunContext {
  jobs: JobStore;
  datasets: DatasetStore;
  cancels: CancelRegistry;
  /** Minimum ms between progress events; the last epoch is always sent. Default 100. */
  progressIntervalMs?: number;
  log?: (obj: object, msg: string) => void;
}

/** Attempt bookkeeping from BullMQ. */
export interface Attempt {
  /** Attempts BullMQ already finished (failed) before this one. */
  attemptsMade: number;
  /** Attempts allowed in all. */
  maxAttempts: number;
}

export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'skipped';

const progressSnapshot = (p: Progress) =>
  JSON.stringify({ epoch: p.epoch, epochs: p.epochs, step: p.step, stepsPerEpoch: p.stepsPerEpoch, loss: p.loss, valLoss: p.valLoss ?? null });

/** Fails the job for good (record, terminal event) and tells BullMQ not to retry. */
async function failForGood(ctx: RunContext, jobId: string, error: JobError): Promise<never> {
  await ctx.jobs.finish(jobId, ['running', 'queued'], 'failed', { error });
  ctx.log?.({ jobId, code: error.code, path: error.path }, 'job failed');
  throw new UnrecoverableError(`${error.code}: ${error.message}`);
}

/**
 * Runs one training job end to end: marks it running (counting the attempt), loads the dataset,
 * trains with progress events and cancellation, then stores model, metrics and the terminal
 * event. A bad spec, a divergence or a missing dataset fail the job without retry
 * (`UnrecoverableError`); other errors are rethrown for BullMQ to retry.
 */
export async function runTrainingJob(ctx: RunContext, jobId: string, attempt: Attempt): Promise<RunOutcome> {
  const before = await ctx.jobs.get(jobId);
  if (!before) return 'skipped';
  const now = new Date().toISOString();
  const start = await ctx.jobs.transition(jobId, ['queued', 'running'], { status: 'running', ...(before.startedAt ? {} : { startedAt: now }) }, { incrementAttempts: true });
  if (!start.applied) return 'skipped'; // cancelled (or finished) before a worker got to it
  await ctx.jobs.appendEvent(jobId, 'status', { status: 'running', attempt: start.attempts, ...(start.previous === 'running' ? { resumed: true } : {}) });

  const controller = await ctx.cancels.register(jobId);
  const interval = ctx.progressIntervalMs ?? 100;
  let lastSent = -Infinity;
  try {
    if (await ctx.jobs.isCancelRequested(jobId)) controller.abort(new Error('cancelled'));
    const loaded = await ctx.datasets.load(before.datasetId);
    if (!loaded) return await failForGood(ctx, jobId, { code: 'dataset_missing', message: `dataset '${before.datasetId}' no longer exists` });
    const data: DataSet = {
      features: loaded.features,
      targets: loaded.targets,
      rows: loaded.meta.rows,
      featureCount: loaded.meta.features,
      targetWidth: loaded.meta.targets,
    };
    const result = await train(before.spec as TrainingSpec, data, {
      signal: controller.signal,
      progressEveryMs: Math.max(interval, 50),
      onProgress: async (p) => {
        const t = performance.now();
        const lastEpoch = p.kind === 'epoch' && p.epoch === p.epochs - 1;
        if (t - lastSent < interval && !lastEpoch) return;
        lastSent = t;
        await ctx.jobs.appendEvent(jobId, 'progress', p, { progress: progressSnapshot(p) });
      },
    });
    const summary: JobResult = {
      loss: result.loss,
      ...(result.valLoss !== undefined ? { valLoss: result.valLoss } : {}),
      ...(result.accuracy !== undefined ? { accuracy: result.accuracy } : {}),
      ...(result.valAccuracy !== undefined ? { valAccuracy: result.valAccuracy } : {}),
      epochsRun: result.epochsRun,
      stoppedEarly: result.stoppedEarly,
      ...(result.gradientCheck ? { gradientCheck: result.gradientCheck } : {}),
      weightsHash: result.weightsHash,
      durationMs: result.durationMs,
      samplesPerSecond: result.samplesPerSecond,
    };
    await ctx.jobs.saveArtifacts(jobId, result.model, result.history);
    await ctx.jobs.finish(jobId, ['running'], 'completed', { result: summary });
    ctx.log?.({ jobId, loss: result.loss, epochsRun: result.epochsRun, durationMs: result.durationMs }, 'job completed');
    return 'completed';
  } catch (err) {
    if (err instanceof UnrecoverableError) throw err;
    if (err instanceof InvalidSpecError) return failForGood(ctx, jobId, { code: 'invalid_spec', message: err.message, path: err.path });
    if (err instanceof DivergenceError) return failForGood(ctx, jobId, { code: 'diverged', message: err.message });
    if (err instanceof TrainingAbortedError && (await ctx.jobs.isCancelRequested(jobId))) {
      await ctx.jobs.finish(jobId, ['running'], 'cancelled', { error: { code: 'cancelled', message: `cancelled by request at epoch ${err.checkpoint.epoch}, step ${err.checkpoint.step}` } });
      ctx.log?.({ jobId, epoch: err.checkpoint.epoch }, 'job cancelled');
      return 'cancelled';
    }
    const message = err instanceof Error ? err.message : String(err);
    if (attempt.attemptsMade + 1 >= attempt.maxAttempts) {
      await ctx.jobs.finish(jobId, ['running'], 'failed', { error: { code: 'worker_error', message } });
    } else {
      // Back to queued until BullMQ's backoff hands it to a worker again.
      await ctx.jobs.transition(jobId, ['running'], { status: 'queued' }, { event: { type: 'status', data: { status: 'queued', retry: true, reason: message } } });
    }
    throw err;
  } finally {
    ctx.cancels.release(jobId);
  }
}
