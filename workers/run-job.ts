import { UnrecoverableError } from 'bullmq';
import { DivergenceError, InvalidSpecError, TrainingAbortedError, train, validateSpec } from '../src/core/index.js';
import type { Checkpoint, DataSet, Progress, TrainResult, TrainingSpec } from '../src/core/types.js';
import type { JobError, JobResult } from '../src/schemas/job.js';
import { keptModel, type KeptModel } from '../src/storage/kept-model.js';
import { JobFencedError, type CheckpointStore, type OwnedWrite, type StoredCheckpoint } from '../src/storage/checkpoint-store.js';
import { BlobStoreUnavailableError } from '../src/storage/blobs/blob-store.js';
import type { DatasetStore } from '../src/storage/dataset-store.js';
import type { JobStore } from '../src/storage/job-store.js';
import type { SweepStore } from '../src/storage/sweep-store.js';
import type { ThroughputStore } from '../src/storage/throughput-store.js';
import { rungEpochs } from '../src/sweeps/search-space.js';
import { scoreOf } from '../src/sweeps/scheduler.js';
import type { Job } from '../src/schemas/job.js';
import type { SweepMetricName } from '../src/schemas/sweep.js';
import { kernelOptions, type KernelChoice, type NativeKernels } from '../src/native-kernels/index.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { WebhookQueue } from '../src/queue/webhook-queue.js';
import type { CoreBudget } from './core-budget.js';
import { ProgressThrottle } from './progress-throttle.js';

/** What {@link runTrainingJob} needs: stores, the cancel registry and the event/checkpoint pacing. */
export interface RunContext {
  jobs: JobStore;
  datasets: DatasetStore;
  cancels: CancelRegistry;
  checkpoints: CheckpointStore;
  /** Sweep records: a sweep trial asks them for ASHA rung decisions and announces its start. */
  sweeps?: SweepStore;
  /** Where the trainer publishes the FLOP/s it measured on finished jobs (for estimates). */
  throughput?: ThroughputStore;
  /** Minimum ms between progress events; the last epoch is always sent. Default 100. */
  progressIntervalMs?: number;
  /** Most ms between mid-epoch checkpoints (every epoch end checkpoints anyway). Default 5000. */
  checkpointIntervalMs?: number;
  /** Publishes `job.progress` webhooks (for jobs whose `webhook` asks for `progress`), at most every `webhookProgressIntervalMs`. */
  webhooks?: Pick<WebhookQueue, 'jobProgress'>;
  /** Default 5000 (WEBHOOK_PROGRESS_INTERVAL_MS). */
  webhookProgressIntervalMs?: number;
  /** Epoch-end checkpoints kept per job as artifacts (the last ones, plus the best). Default 3 (CHECKPOINTS_KEPT). */
  checkpointsKept?: number;
  log?: (obj: object, msg: string) => void;
  /** Kernel backend (TRAINING_KERNELS). Default `auto`: native where it loads, else wasm. */
  kernels?: KernelChoice;
  /** Threads for the job's big products, asked again while it runs (idle cores of the worker). Default: 1 thread. */
  budget?: CoreBudget;
}

/** Attempt bookkeeping from BullMQ. */
export interface Attempt {
  /** Attempts BullMQ already finished (failed) before this one. */
  attemptsMade: number;
  /** Attempts allowed in all. */
  maxAttempts: number;
  /** Aborted when this worker shuts down: the job is checkpointed and handed back ('handed-back'). */
  shutdown?: AbortSignal;
}

/** `retry-later`: the blob store was unreachable; the job is queued again and should run after a pause. */
export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'pruned' | 'skipped' | 'handed-back' | 'retry-later';

/** ASHA of a sweep trial: where its rungs are and how it is ranked. */
interface TrialAsha {
  sweepId: string;
  index: number;
  eta: number;
  metric: { name: SweepMetricName; goal: 'minimize' | 'maximize' };
  rungs: number[];
}

/** The ASHA settings of job `job` when it is a trial of a sweep with early stopping, else null. */
async function ashaOf(sweeps: SweepStore | undefined, job: Job): Promise<TrialAsha | null> {
  if (!sweeps || !job.sweepId || job.sweepTrial === undefined) return null;
  const meta = await sweeps.meta(job.sweepId);
  const es = meta?.spec.earlyStop;
  if (!meta || !es) return null;
  return { sweepId: job.sweepId, index: job.sweepTrial, eta: es.eta, metric: meta.spec.metric, rungs: rungEpochs(es.minEpochs, es.eta, job.spec.epochs) };
}

/**
 * The rung decision for a trial at epoch-end checkpoint `c` ('continue' off a rung). Made once
 * per trial and rung in Redis (atomic per sweep), so it holds across workers and restarts.
 */
async function rungDecision(sweeps: SweepStore, a: TrialAsha, jobId: string, c: Checkpoint): Promise<'continue' | 'prune'> {
  const rung = a.rungs.indexOf(c.epoch);
  const last = c.history.at(-1);
  if (rung < 0 || c.step !== 0 || !last) return 'continue';
  const value = last[a.metric.name];
  const metric = typeof value === 'number' && Number.isFinite(value) ? value : NaN;
  return sweeps.decide(a.sweepId, { index: a.index, jobId, rung, epoch: c.epoch, metric, score: Number.isNaN(metric) ? Infinity : scoreOf(metric, a.metric), eta: a.eta });
}

const progressSnapshot = (p: Progress, eta?: EtaClock) =>
  JSON.stringify({ epoch: p.epoch, epochs: p.epochs, step: p.step, stepsPerEpoch: p.stepsPerEpoch, loss: p.loss, valLoss: p.valLoss ?? null, ...(eta ? eta.at(p) : {}) });

/** Projects the finish time of an attempt from its own pace: fraction done since it started, over the time it took. */
class EtaClock {
  private readonly t0 = Date.now();
  constructor(private readonly startFraction: number) {}

  at(p: Progress): { estimatedFinishAt?: string } {
    const f = (p.epoch + p.step / Math.max(1, p.stepsPerEpoch)) / Math.max(1, p.epochs);
    const done = f - this.startFraction;
    if (!(done > 0)) return {};
    const now = Date.now();
    return { estimatedFinishAt: new Date(now + ((now - this.t0) * Math.max(0, 1 - f)) / done).toISOString() };
  }
}

/** Fails the job for good (record, terminal event) and tells BullMQ not to retry. */
async function failForGood(ctx: RunContext, jobId: string, error: JobError, attempt?: number, kept?: KeptModel | null): Promise<never> {
  await ctx.jobs.finish(jobId, ['running', 'queued'], 'failed', { error, ...(kept ? { artifacts: kept.artifacts, progress: kept.progress } : {}) }, { attempt });
  ctx.log?.({ jobId, code: error.code, path: error.path }, 'job failed');
  throw new UnrecoverableError(`${error.code}: ${error.message}`);
}

/**
 * Runs one attempt of a training job: marks it running (counting the attempt), resumes from the
 * job's last checkpoint if there is one, trains with progress events and checkpoints (at every
 * epoch end and every `checkpointIntervalMs` within epochs, each written atomically with its
 * event), then stores model, metrics and the terminal event.
 *
 * A bad spec, a divergence, a missing dataset or `maxDurationSeconds` fail the job without retry
 * (`UnrecoverableError`); a shutdown checkpoints and hands the job back; other errors are
 * rethrown for BullMQ to retry with backoff. Every write is fenced by the attempt number, so an
 * attempt that lost the job (its worker stalled and another took over) stops without effect.
 */
export async function runTrainingJob(ctx: RunContext, jobId: string, attempt: Attempt): Promise<RunOutcome> {
  const before = await ctx.jobs.get(jobId);
  if (!before) return 'skipped';
  const now = new Date().toISOString();
  const start = await ctx.jobs.transition(jobId, ['queued', 'running'], { status: 'running', ...(before.startedAt ? {} : { startedAt: now }) }, { incrementAttempts: true });
  if (!start.applied) return 'skipped'; // cancelled (or finished) before a worker got to it
  const attemptNo = start.attempts;
  const owned = (w: OwnedWrite) => ctx.checkpoints.write(jobId, attemptNo, w);

  const controller = await ctx.cancels.register(jobId);
  let stopReason: 'shutdown' | 'timeout' | 'pruned' | undefined;
  const onShutdown = () => {
    stopReason ??= 'shutdown';
    controller.abort(new Error('worker shutting down'));
  };
  if (attempt.shutdown?.aborted) onShutdown();
  else attempt.shutdown?.addEventListener('abort', onShutdown, { once: true });
  let deadline: NodeJS.Timeout | undefined;
  const interval = ctx.progressIntervalMs ?? 100;
  const throttle = new ProgressThrottle(interval);
  // The last epoch-end checkpoint written (or resumed from): what a cancelled job keeps as its model.
  let lastEpochEnd = null as Checkpoint | null;
  // Idle cores of this worker go to the running jobs' big products (native kernels), re-asked while training.
  let native: NativeKernels | null = null;
  ctx.budget?.enter();
  const rebudget = ctx.budget ? setInterval(() => native?.setThreads(ctx.budget!.threads()), 250) : undefined;
  try {
    const saved = await ctx.checkpoints.load(jobId);
    const resumed = saved !== null || start.previous === 'running';
    await owned({
      event: {
        type: 'status',
        data: { status: 'running', attempt: attemptNo, ...(resumed ? { resumed: true, fromEpoch: saved?.epoch ?? 0, fromStep: saved?.step ?? 0 } : {}) },
      },
    });
    if (saved) ctx.log?.({ jobId, attempt: attemptNo, epoch: saved.epoch, step: saved.step, bytes: saved.bytes }, 'job resumed from checkpoint');
    const asha = await ashaOf(ctx.sweeps, before);
    if (before.sweepId && attemptNo === 1) await ctx.sweeps?.appendEvent(before.sweepId, 'trial.started', { trial: before.sweepTrial, jobId });
    const prune = () => {
      stopReason ??= 'pruned';
      controller.abort(new Error('pruned'));
    };
    // Resumed at a rung it was already judged at (the worker died right after the decision): the same answer.
    if (asha && saved && (await rungDecision(ctx.sweeps!, asha, jobId, saved.checkpoint)) === 'prune') prune();

    const spec = before.spec as TrainingSpec;
    // job.progress webhooks: only for a job whose own webhook asks for them, throttled.
    const progressHook = ctx.webhooks && before.webhook?.events?.includes('progress') ? before.webhook : undefined;
    const hookTenant = progressHook ? await ctx.jobs.tenantOf(jobId) : null;
    let lastProgressHook = -Infinity;
    const { maxDurationSeconds } = before;
    if (maxDurationSeconds) {
      const left = Date.parse(before.startedAt ?? now) + maxDurationSeconds * 1000 - Date.now();
      deadline = setTimeout(() => {
        stopReason ??= 'timeout';
        controller.abort(new Error('timeout'));
      }, Math.max(0, left));
    }
    if (await ctx.jobs.isCancelRequested(jobId)) controller.abort(new Error('cancelled'));
    const loaded = await ctx.datasets.load(before.datasetId);
    if (!loaded) return await failForGood(ctx, jobId, { code: 'dataset_missing', message: `dataset '${before.datasetId}' no longer exists` }, attemptNo);
    const dataOf = (l: NonNullable<typeof loaded>): DataSet => ({
      features: l.features,
      targets: l.targets,
      rows: l.meta.rows,
      featureCount: l.meta.features,
      targetWidth: l.meta.targets,
      ...featureNamesOf(l.meta),
    });
    const data = dataOf(loaded);
    // The same validation as at submit (the dataset or the rules may have changed since).
    const problems = validateSpec(spec, { id: loaded.meta.id, rows: loaded.meta.rows, features: loaded.meta.features, targets: loaded.meta.targets, targetValues: loaded.targets });
    if (problems.length > 0) {
      const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      return await failForGood(ctx, jobId, { code: 'invalid_spec', message, path: problems[0].path }, attemptNo);
    }
    // An epoch's last progress event is written together with the checkpoint that follows it,
    // so a resumed run never repeats an epoch event and never misses one.
    let pendingEpoch: Progress | null = null;
    // The core trains on the loaded arrays in place (consumeData: the dataset is held once); a
    // second run of this attempt (a refused checkpoint) loads them again.
    let unused: DataSet | null = data;
    let eta: EtaClock | undefined;
    const run = async (resumeFrom: Checkpoint | undefined) => {
      lastEpochEnd = resumeFrom?.step === 0 ? resumeFrom : null;
      eta = new EtaClock(resumeFrom ? resumeFrom.epoch / Math.max(1, spec.epochs) : 0);
      const reloaded = unused ? null : await ctx.datasets.load(before.datasetId);
      if (!unused && !reloaded) throw new Error(`dataset '${before.datasetId}' vanished while the job started`);
      const d = unused ?? dataOf(reloaded!);
      unused = null;
      return train(spec, d, {
        ...kernelOptions(ctx.kernels, (k) => {
          native = k;
          k.setThreads(ctx.budget?.threads() ?? 1);
          ctx.log?.({ jobId, kernels: k.name, threads: ctx.budget?.threads() ?? 1 }, 'training on native kernels');
        }),
        consumeData: true,
        signal: controller.signal,
        progressEveryMs: Math.max(interval, 50),
        checkpointEveryMs: ctx.checkpointIntervalMs ?? 5000,
        ...(resumeFrom ? { resumeFrom } : {}),
        onProgress: async (p) => {
          if (!throttle.shouldSend(p, performance.now())) return;
          if (p.kind === 'epoch') pendingEpoch = p;
          else await owned({ event: { type: 'progress', data: p }, progress: progressSnapshot(p, eta) });
        },
        onCheckpoint: async (c) => {
          const p = pendingEpoch;
          pendingEpoch = null;
          await owned({ checkpoint: c, ...(p ? { event: { type: 'progress', data: p }, progress: progressSnapshot(p, eta) } : {}) });
          if (c.step === 0) {
            lastEpochEnd = c;
            // Epoch ends are also kept as artifacts (GET /v1/jobs/{id}/checkpoints, fromCheckpoint).
            await ctx.checkpoints.keep(jobId, c, ctx.checkpointsKept ?? 3, ctx.jobs.retentionSeconds);
            const m = c.history[c.history.length - 1];
            if (progressHook && hookTenant !== null && m && c.epoch < spec.epochs && performance.now() - lastProgressHook >= (ctx.webhookProgressIntervalMs ?? 5000)) {
              lastProgressHook = performance.now();
              await ctx.webhooks!.jobProgress(jobId, hookTenant, progressHook, {
                epoch: c.epoch, epochs: spec.epochs, loss: m.loss,
                ...(m.valLoss !== undefined ? { valLoss: m.valLoss } : {}),
                ...(m.accuracy !== undefined ? { accuracy: m.accuracy } : {}),
                ...(m.valAccuracy !== undefined ? { valAccuracy: m.valAccuracy } : {}),
              });
            }
          }
          if (asha && c.step === 0 && !controller.signal.aborted && (await rungDecision(ctx.sweeps!, asha, jobId, c)) === 'prune') prune();
        },
      });
    };
    const result = await runResuming(ctx, jobId, saved, run);
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
      kernels: result.kernels,
    };
    if (!(await ctx.jobs.saveArtifacts(jobId, result.model, result.history, { attempt: attemptNo }))) throw new JobFencedError(jobId, attemptNo);
    const done = await ctx.jobs.finish(jobId, ['running'], 'completed', { result: summary }, { attempt: attemptNo });
    if (!done.applied) return 'skipped';
    ctx.log?.({ jobId, loss: result.loss, epochsRun: result.epochsRun, durationMs: result.durationMs, samplesPerSecond: result.samplesPerSecond, kernels: result.kernels, attempt: attemptNo }, 'job completed');
    return 'completed';
  } catch (err) {
    if (err instanceof JobFencedError) {
      ctx.log?.({ jobId, attempt: attemptNo }, 'job taken over by another attempt; this one stops');
      return 'skipped';
    }
    if (err instanceof UnrecoverableError) throw err;
    if (err instanceof InvalidSpecError) return failForGood(ctx, jobId, { code: 'invalid_spec', message: err.message, path: err.path }, attemptNo);
    if (err instanceof DivergenceError) return failForGood(ctx, jobId, { code: 'diverged', message: err.message, epoch: err.epoch, step: err.step, what: err.what }, attemptNo);
    if (err instanceof TrainingAbortedError) {
      const at = `epoch ${err.checkpoint.epoch}, step ${err.checkpoint.step}`;
      if (await ctx.jobs.isCancelRequested(jobId)) {
        return cancelled(ctx, jobId, attemptNo, before.spec as TrainingSpec, lastEpochEnd ?? err.checkpoint, at).catch((e: unknown) => {
          if (e instanceof JobFencedError) return 'skipped' as const;
          throw e;
        });
      }
      if (stopReason === 'pruned')
        return pruned(ctx, jobId, attemptNo, before.spec as TrainingSpec, lastEpochEnd ?? err.checkpoint).catch((e: unknown) => {
          if (e instanceof JobFencedError) return 'skipped' as const;
          throw e;
        });
      if (stopReason === 'timeout')
        return timedOut(ctx, jobId, attemptNo, before.spec as TrainingSpec, before.maxDurationSeconds!, err.checkpoint).catch((e: unknown) => {
          if (e instanceof JobFencedError) return 'skipped' as const;
          throw e;
        });
      if (stopReason === 'shutdown') {
        try {
          // Checkpoint, event and status in one fenced step.
          await owned({ checkpoint: err.checkpoint, status: 'queued', event: { type: 'status', data: { status: 'queued', handback: true, reason: `worker shutting down at ${at}` } } });
        } catch (e) {
          if (e instanceof JobFencedError) return 'skipped';
          throw e;
        }
        ctx.log?.({ jobId, epoch: err.checkpoint.epoch, step: err.checkpoint.step }, 'job checkpointed and handed back');
        return 'handed-back';
      }
    }
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof BlobStoreUnavailableError) {
      // Not the job's fault and not an attempt's: queued again (it resumes from its checkpoint) until the store is back.
      await ctx.jobs.transition(jobId, ['running'], { status: 'queued' }, { event: { type: 'status', data: { status: 'queued', retry: true, reason: message } } });
      ctx.log?.({ jobId, attempt: attemptNo, err: message }, 'blob store unavailable; job queued to run again later');
      return 'retry-later';
    }
    if (attempt.attemptsMade + 1 >= attempt.maxAttempts) {
      await ctx.jobs.finish(jobId, ['running'], 'failed', { error: { code: 'worker_error', message } }, { attempt: attemptNo }).catch(() => {});
    } else {
      // Back to queued until BullMQ's backoff hands it to a worker again (it resumes from the checkpoint).
      await ctx.jobs
        .transition(jobId, ['running'], { status: 'queued' }, { event: { type: 'status', data: { status: 'queued', retry: true, reason: message } } })
        .catch(() => {});
    }
    throw err;
  } finally {
    clearInterval(rebudget);
    ctx.budget?.leave();
    (native as NativeKernels | null)?.setThreads(1);
    clearTimeout(deadline);
    attempt.shutdown?.removeEventListener('abort', onShutdown);
    ctx.cancels.release(jobId);
  }
}

/** Trains from `saved`; a checkpoint the core refuses (another core version) is dropped and training starts over. */
async function runResuming<T>(ctx: RunContext, jobId: string, saved: StoredCheckpoint | null, run: (c: Checkpoint | undefined) => Promise<T>): Promise<T> {
  if (!saved) return run(undefined);
  try {
    return await run(saved.checkpoint);
  } catch (err) {
    if (!(err instanceof InvalidSpecError && err.path === 'resumeFrom')) throw err;
    ctx.log?.({ jobId, reason: err.message }, 'checkpoint refused; starting over');
    await ctx.checkpoints.delete(jobId);
    return run(undefined);
  }
}

/** The dataset's feature column names (CSV uploads have them), which the model keeps. */
function featureNamesOf(meta: { features: number; columns?: string[] }): Pick<DataSet, 'featureNames'> {
  return meta.columns?.length === meta.features ? { featureNames: meta.columns } : {};
}

/**
 * What a job stopped at checkpoint `c` keeps (model, metrics, result figures, a progress that
 * agrees with them), built by the core from the checkpoint alone; null when no epoch had finished.
 * The finish step stores it with the status, fenced by the attempt.
 */
async function keptFrom(ctx: RunContext, jobId: string, spec: TrainingSpec, c: Checkpoint, stoppedEarly = false): Promise<KeptModel | null> {
  const job = await ctx.jobs.get(jobId);
  const meta = job ? await ctx.datasets.get(job.datasetId) : null;
  if (!meta) return null;
  return keptModel(spec, c, { rows: meta.rows, ...featureNamesOf(meta) }, stoppedEarly);
}

/**
 * `maxDurationSeconds` ran out: the model at the abort position (its last completed epochs'
 * history) is kept downloadable, and the job fails with code `timeout` without retry.
 */
async function timedOut(ctx: RunContext, jobId: string, attemptNo: number, spec: TrainingSpec, maxDurationSeconds: number, c: Checkpoint): Promise<never> {
  const kept = await keptFrom(ctx, jobId, spec, c);
  const what = kept ? kept.summary : 'no epoch had finished, so there is no model';
  return failForGood(ctx, jobId, { code: 'timeout', message: `maxDurationSeconds (${maxDurationSeconds}) exceeded at epoch ${c.epoch}, step ${c.step}; ${what}` }, attemptNo, kept);
}

/**
 * A cancel stopped the running job (at `at`): the model after its last finished epoch (`c`, the
 * last epoch-end checkpoint; the abort position only when this attempt resumed mid-epoch and
 * finished no epoch) and that history are kept, `result` carries their figures and `progress`
 * points at the same epoch, status `cancelled`.
 */
async function cancelled(ctx: RunContext, jobId: string, attemptNo: number, spec: TrainingSpec, c: Checkpoint, at: string): Promise<'cancelled' | 'skipped'> {
  const kept = await keptFrom(ctx, jobId, spec, c);
  const what = kept ? kept.summary : 'no epoch had finished, so there is no model';
  const done = await ctx.jobs.finish(
    jobId,
    ['running'],
    'cancelled',
    { ...(kept ? { result: kept.result, artifacts: kept.artifacts, progress: kept.progress } : {}), error: { code: 'cancelled', message: `cancelled by request at ${at}; ${what}` } },
    { attempt: attemptNo },
  );
  if (!done.applied) return 'skipped';
  ctx.log?.({ jobId, at, epochsKept: kept?.result.epochsRun ?? 0 }, 'job cancelled');
  return 'cancelled';
}

/**
 * ASHA pruned the sweep trial at the rung ending at checkpoint `c`: the model and metrics of that
 * epoch are kept (`result`, `stoppedEarly: true`), status `pruned`.
 */
async function pruned(ctx: RunContext, jobId: string, attemptNo: number, spec: TrainingSpec, c: Checkpoint): Promise<'pruned' | 'skipped'> {
  const kept = await keptFrom(ctx, jobId, spec, c, true);
  const done = await ctx.jobs.finish(jobId, ['running'], 'pruned', kept ? { result: kept.result, artifacts: kept.artifacts, progress: kept.progress } : {}, { attempt: attemptNo });
  if (!done.applied) return 'skipped';
  ctx.log?.({ jobId, epoch: c.epoch }, 'sweep trial pruned');
  return 'pruned';
}
