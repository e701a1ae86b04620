import { UnrecoverableError } from 'bullmq';
import { DivergenceError, InvalidSpecError, TrainingAbortedError } from '../src/core/index.js';
import type { Checkpoint, EpochMetrics, Model, TrainResult, TrainingSpec } from '../src/core/types.js';
import type { Job, JobError, JobProgress, JobResult, JobStatus } from '../src/schemas/job.js';
import { BlobStoreUnavailableError } from '../src/storage/blobs/blob-store.js';
import { JobFencedError, type CheckpointStore } from '../src/storage/checkpoint-store.js';
import type { DatasetStore } from '../src/storage/dataset-store.js';
import type { JobStore } from '../src/storage/job-store.js';
import { jobResultOf, keptModel, type KeptModel } from '../src/storage/kept-model.js';

/*
 * Every way an attempt of a training job ends goes through one step, {@link finish}: the runner
 * (run-job.ts) says how it ended as an {@link Outcome}, and {@link ending} says, in one case per
 * outcome, what the job keeps (model, metrics, result, progress, error), how the record moves
 * and what BullMQ is told. docs/reliability.md has the same rules as a table.
 */

/** What {@link finish} needs of the worker's stores. */
export interface FinishContext {
  jobs: JobStore;
  datasets: DatasetStore;
  checkpoints: CheckpointStore;
  log?: (obj: object, msg: string) => void;
}

/** The attempt that ends: the job as it was read at start, and the attempt number that fences every write. */
export interface AttemptInfo {
  job: Job;
  attemptNo: number;
  /** Attempts BullMQ already finished (failed) before this one, and allowed in all. */
  attemptsMade: number;
  maxAttempts: number;
}

/** Where an aborted training stopped: the abort position and the last epoch-end checkpoint of this attempt (or the one it resumed from). */
export interface Stop {
  at: Checkpoint;
  lastEpochEnd: Checkpoint | null;
}

/** Why an attempt's training was aborted (the cancel flag is read from the record). */
export type StopReason = 'shutdown' | 'timeout' | 'pruned';

/** How one attempt of a training job ended. */
export type Outcome =
  /** Trained every epoch (or stopped early by its own early stopping). */
  | { kind: 'completed'; result: TrainResult }
  /** For good, the job's own fault: invalid_spec, diverged, dataset_missing. */
  | { kind: 'failed'; error: JobError }
  /** `maxDurationSeconds` ran out. */
  | { kind: 'timed-out'; stop: Stop }
  /** A cancel request stopped it. */
  | { kind: 'cancelled'; stop: Stop }
  /** ASHA stopped the sweep trial at a rung. */
  | { kind: 'pruned'; stop: Stop }
  /** This worker shuts down: the exact position is saved and the job goes back to the wait list. */
  | { kind: 'handed-back'; stop: Stop }
  /** The blob store was unreachable: not the job's fault nor the attempt's. */
  | { kind: 'retry-later'; err: Error }
  /** Any other error: BullMQ retries it (attempts left) or it fails with `worker_error`. */
  | { kind: 'errored'; err: unknown }
  /** Another attempt owns the job now (a write was refused): this one stops without effect. */
  | { kind: 'fenced' };

/**
 * What {@link runTrainingJob} returns to the processor: the outcome's name, `skipped` when the
 * attempt ended without effect. `retry-later`: the job is queued again and should run after a pause.
 */
export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'pruned' | 'skipped' | 'handed-back' | 'retry-later';

/** The outcome an error thrown by the attempt (training, or writing another outcome) stands for. */
export async function outcomeOf(ctx: FinishContext, a: AttemptInfo, err: unknown, stopped: { reason?: StopReason; lastEpochEnd: Checkpoint | null } = { lastEpochEnd: null }): Promise<Outcome> {
  if (err instanceof JobFencedError) return { kind: 'fenced' };
  if (err instanceof InvalidSpecError) return { kind: 'failed', error: { code: 'invalid_spec', message: err.message, path: err.path } };
  if (err instanceof DivergenceError) return { kind: 'failed', error: { code: 'diverged', message: err.message, epoch: err.epoch, step: err.step, what: err.what } };
  if (err instanceof TrainingAbortedError) {
    const stop = { at: err.checkpoint, lastEpochEnd: stopped.lastEpochEnd };
    if (await ctx.jobs.isCancelRequested(a.job.id)) return { kind: 'cancelled', stop };
    if (stopped.reason === 'pruned') return { kind: 'pruned', stop };
    if (stopped.reason === 'timeout') return { kind: 'timed-out', stop };
    if (stopped.reason === 'shutdown') return { kind: 'handed-back', stop };
  }
  if (err instanceof BlobStoreUnavailableError) return { kind: 'retry-later', err };
  return { kind: 'errored', err };
}

/** The record write of an ending. */
type Write =
  /** JobStore.finish: terminal status with what the job keeps, fenced by the attempt; its onFinished hook sends the webhook. */
  | { finish: 'completed' | 'failed' | 'cancelled' | 'pruned'; from: readonly JobStatus[]; keep: Keep; swallowErrors?: true }
  /** Back to `queued` with the abort position as checkpoint and a handback event, fenced by the attempt (CheckpointStore.write). */
  | { handback: Checkpoint; reason: string }
  /** Back to `queued` with a retry event (JobStore.transition from `running`), fenced by the attempt. */
  | { requeue: string; swallowErrors?: true }
  | null;

interface Keep {
  result?: JobResult;
  error?: JobError;
  progress?: JobProgress;
  /** The model and per-epoch metrics (GET /model, /metrics, /predict). */
  artifacts?: { model: Model; history: EpochMetrics[] };
}

/** What an outcome does: the record write, the log line, and what BullMQ is told (a return value, or an error to throw). */
interface Ending {
  write: Write;
  log?: [object, string];
  then: { return: RunOutcome } | { throw: unknown };
}

const RUNNING = ['running'] as const;
const RUNNING_OR_QUEUED = ['running', 'queued'] as const;
const NO_MODEL = 'no epoch had finished, so there is no model';
const keptParts = (k: KeptModel | null, parts: { result?: true; progress?: true }): Keep =>
  k ? { artifacts: k.artifacts, ...(parts.result ? { result: k.result } : {}), ...(parts.progress ? { progress: k.progress } : {}) } : {};
const position = (c: Checkpoint) => `epoch ${c.epoch}, step ${c.step}`;

/**
 * The rules, one case per outcome: what the record keeps and how it moves, what is logged and
 * what BullMQ is told. `kept(c)` is the model of checkpoint `c` (null before the first finished epoch).
 */
async function ending(o: Outcome, a: AttemptInfo, kept: (c: Checkpoint, stoppedEarly?: boolean) => Promise<KeptModel | null>): Promise<Ending> {
  const jobId = a.job.id;
  switch (o.kind) {
    case 'completed': {
      // The trained model and its metrics, the result figures; progress stays at the last event's.
      const r = o.result;
      return {
        write: { finish: 'completed', from: RUNNING, keep: { result: jobResultOf(r), artifacts: { model: r.model, history: r.history } } },
        log: [{ jobId, loss: r.loss, epochsRun: r.epochsRun, durationMs: r.durationMs, samplesPerSecond: r.samplesPerSecond, kernels: r.kernels, attempt: a.attemptNo }, 'job completed'],
        then: { return: 'completed' },
      };
    }
    case 'failed':
      // Nothing but the error; no retry.
      return failedForGood(jobId, o.error, {});
    case 'timed-out': {
      // The model at the abort position and the finished epochs' metrics, progress at that epoch; no result, no retry.
      const k = await kept(o.stop.at);
      const message = `maxDurationSeconds (${a.job.maxDurationSeconds}) exceeded at ${position(o.stop.at)}; ${k ? k.summary : NO_MODEL}`;
      return failedForGood(jobId, { code: 'timeout', message }, keptParts(k, { progress: true }));
    }
    case 'cancelled': {
      // The model after the last finished epoch (the abort position only when this attempt resumed
      // mid-epoch and finished no epoch), its metrics and figures, progress at that epoch.
      const at = position(o.stop.at);
      const k = await kept(o.stop.lastEpochEnd ?? o.stop.at);
      const error: JobError = { code: 'cancelled', message: `cancelled by request at ${at}; ${k ? k.summary : NO_MODEL}` };
      return {
        write: { finish: 'cancelled', from: RUNNING, keep: { ...keptParts(k, { result: true, progress: true }), error } },
        log: [{ jobId, at, epochsKept: k?.result.epochsRun ?? 0 }, 'job cancelled'],
        then: { return: 'cancelled' },
      };
    }
    case 'pruned': {
      // The model and metrics of the rung epoch, its figures (stoppedEarly: true), progress at that epoch.
      const c = o.stop.lastEpochEnd ?? o.stop.at;
      const k = await kept(c, true);
      return {
        write: { finish: 'pruned', from: RUNNING, keep: keptParts(k, { result: true, progress: true }) },
        log: [{ jobId, epoch: c.epoch }, 'sweep trial pruned'],
        then: { return: 'pruned' },
      };
    }
    case 'handed-back':
      // The exact position as the job's checkpoint, back to queued; the processor moves it to the wait list (no attempt used).
      return {
        write: { handback: o.stop.at, reason: `worker shutting down at ${position(o.stop.at)}` },
        log: [{ jobId, epoch: o.stop.at.epoch, step: o.stop.at.step }, 'job checkpointed and handed back'],
        then: { return: 'handed-back' },
      };
    case 'retry-later':
      // Back to queued (it resumes from its checkpoint); the processor delays it without using an attempt, as often as it takes.
      return {
        write: { requeue: o.err.message },
        log: [{ jobId, attempt: a.attemptNo, err: o.err.message }, 'blob store unavailable; job queued to run again later'],
        then: { return: 'retry-later' },
      };
    case 'errored': {
      // Rethrown for BullMQ: back to queued until its backoff hands the job out again, or, on the last attempt, failed with worker_error.
      const message = o.err instanceof Error ? o.err.message : String(o.err);
      const last = a.attemptsMade + 1 >= a.maxAttempts;
      return {
        write: last ? { finish: 'failed', from: RUNNING, keep: { error: { code: 'worker_error', message } }, swallowErrors: true } : { requeue: message, swallowErrors: true },
        then: { throw: o.err },
      };
    }
    case 'fenced':
      return { write: null, log: [{ jobId, attempt: a.attemptNo }, 'job taken over by another attempt; this one stops'], then: { return: 'skipped' } };
  }
}

/** A final failure: status `failed` with `error` (and whatever `keep` holds), and BullMQ told not to retry. */
function failedForGood(jobId: string, error: JobError, keep: Keep): Ending {
  return {
    write: { finish: 'failed', from: RUNNING_OR_QUEUED, keep: { error, ...keep } },
    log: [{ jobId, code: error.code, path: error.path }, 'job failed'],
    then: { throw: new UnrecoverableError(`${error.code}: ${error.message}`) },
  };
}

/**
 * Ends attempt `a` with `outcome`: writes what the outcome keeps (fenced by the attempt), logs,
 * and returns or throws what BullMQ is to hear. A write that throws (Redis, blob store, a refused
 * fenced write) is itself an outcome ({@link outcomeOf}), which is finished instead.
 */
export async function finish(ctx: FinishContext, a: AttemptInfo, outcome: Outcome): Promise<RunOutcome> {
  const kept = async (c: Checkpoint, stoppedEarly = false) => {
    const meta = await ctx.datasets.get(a.job.datasetId);
    return meta ? keptModel(a.job.spec as TrainingSpec, c, { rows: meta.rows, ...featureNamesOf(meta) }, stoppedEarly) : null;
  };
  let e = await ending(outcome, a, kept);
  let applied: boolean;
  try {
    applied = await write(ctx, a, e.write);
  } catch (err) {
    // Once: the outcome of a failed write writes what it must, and its own errors are thrown.
    e = await ending(await outcomeOf(ctx, a, err), a, kept);
    applied = await write(ctx, a, e.write);
  }
  if ('return' in e.then && !applied) return 'skipped'; // ended or taken over meanwhile
  if (e.log) ctx.log?.(...e.log);
  if ('throw' in e.then) throw e.then.throw;
  return e.then.return;
}

/**
 * Applies a {@link Write}; false when a terminal write or a requeue found the job already ended
 * or owned by another attempt. A refused handback throws JobFencedError.
 */
async function write(ctx: FinishContext, a: AttemptInfo, w: Write): Promise<boolean> {
  const jobId = a.job.id;
  const settle = async (p: Promise<{ applied: boolean }>, swallow?: true) => (swallow ? ((await p.catch(() => null))?.applied ?? false) : (await p).applied);
  if (w === null) return true;
  if ('finish' in w) return settle(ctx.jobs.finish(jobId, w.from, w.finish, w.keep, { attempt: a.attemptNo }), w.swallowErrors);
  if ('handback' in w) {
    // Checkpoint, event and status in one fenced step.
    await ctx.checkpoints.write(jobId, a.attemptNo, { checkpoint: w.handback, status: 'queued', event: { type: 'status', data: { status: 'queued', handback: true, reason: w.reason } } });
    return true;
  }
  // An attempt that lost the job (another owns it, or it ended meanwhile) must not send it back to the wait list.
  return settle(ctx.jobs.transition(jobId, ['running'], { status: 'queued' }, { attempt: a.attemptNo, event: { type: 'status', data: { status: 'queued', retry: true, reason: w.requeue } } }), w.swallowErrors);
}

/** The dataset's feature column names (CSV uploads have them), which the model keeps. */
export function featureNamesOf(meta: { features: number; columns?: string[] }): { featureNames?: string[] } {
  return meta.columns?.length === meta.features ? { featureNames: meta.columns } : {};
}
