import { InvalidSpecError, train, validateSpec } from '../src/core/index.js';
import type { Checkpoint, DataSet, Progress, TrainResult, TrainingSpec } from '../src/core/types.js';
import { progressEventData, type Job, type JobStatus } from '../src/schemas/job.js';
import type { CheckpointStore, OwnedWrite, StoredCheckpoint } from '../src/storage/checkpoint-store.js';
import type { DatasetStore } from '../src/storage/dataset-store.js';
import type { JobStore } from '../src/storage/job-store.js';
import type { SweepStore } from '../src/storage/sweep-store.js';
import type { ThroughputStore } from '../src/storage/throughput-store.js';
import { rungEpochs } from '../src/sweeps/search-space.js';
import { scoreOf } from '../src/sweeps/scheduler.js';
import type { SweepMetricName } from '../src/schemas/sweep.js';
import { kernelOptions, type KernelChoice, type NativeKernels } from '../src/native-kernels/index.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { WebhookQueue } from '../src/queue/webhook-queue.js';
import type { CoreBudget } from './core-budget.js';
import { featureNamesOf, finish, outcomeOf, type AttemptInfo, type Outcome, type RunOutcome, type StopReason } from './finish.js';
import { ProgressThrottle } from './progress-throttle.js';

export type { Outcome, RunOutcome } from './finish.js';

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

/** The job read and moved to `running` (counting the attempt), or null when it is gone or no longer queued. */
async function startAttempt(ctx: RunContext, jobId: string, attempt: Attempt): Promise<{ a: AttemptInfo; previous: JobStatus | '' } | null> {
  const job = await ctx.jobs.get(jobId);
  if (!job) return null;
  const startedAt = job.startedAt ?? new Date().toISOString();
  const start = await ctx.jobs.transition(jobId, ['queued', 'running'], { status: 'running', ...(job.startedAt ? {} : { startedAt }) }, { incrementAttempts: true });
  if (!start.applied) return null; // cancelled (or finished) before a worker got to it
  return { a: { job: { ...job, startedAt }, attemptNo: start.attempts, attemptsMade: attempt.attemptsMade, maxAttempts: attempt.maxAttempts }, previous: start.previous };
}

/**
 * What can stop a running attempt (cancel, worker shutdown, `maxDurationSeconds`, an ASHA prune),
 * each aborting training with its reason, and the worker's cores lent to it. Closed when the attempt ends.
 */
class AttemptControls {
  readonly signal: AbortSignal;
  /** Why training was aborted, when not (or not only) by a cancel. */
  reason: StopReason | undefined;
  /** The last epoch-end checkpoint written (or resumed from): what a cancelled or pruned job keeps as its model. */
  lastEpochEnd: Checkpoint | null = null;
  /** The job's native kernels, once training chose them: idle cores of this worker go to their big products. */
  native: NativeKernels | null = null;
  private deadline: NodeJS.Timeout | undefined;
  private readonly rebudget: NodeJS.Timeout | undefined;
  private readonly onShutdown = () => this.stop('shutdown', 'worker shutting down');

  private constructor(
    private readonly ctx: RunContext,
    private readonly jobId: string,
    private readonly controller: AbortController,
    private readonly shutdown: AbortSignal | undefined,
  ) {
    this.signal = controller.signal;
    if (shutdown?.aborted) this.onShutdown();
    else shutdown?.addEventListener('abort', this.onShutdown, { once: true });
    ctx.budget?.enter();
    this.rebudget = ctx.budget ? setInterval(() => this.native?.setThreads(ctx.budget!.threads()), 250) : undefined;
  }

  static async open(ctx: RunContext, jobId: string, shutdown: AbortSignal | undefined): Promise<AttemptControls> {
    return new AttemptControls(ctx, jobId, await ctx.cancels.register(jobId), shutdown);
  }

  /** Aborts training (the first reason given is kept). */
  stop(reason: StopReason | undefined, message: string): void {
    this.reason ??= reason;
    this.controller.abort(new Error(message));
  }

  /** Stops the job with `timeout` once `maxDurationSeconds` from its first start have passed. */
  armDeadline(job: Job): void {
    if (!job.maxDurationSeconds) return;
    const left = Date.parse(job.startedAt!) + job.maxDurationSeconds * 1000 - Date.now();
    this.deadline = setTimeout(() => this.stop('timeout', 'timeout'), Math.max(0, left));
  }

  close(): void {
    clearInterval(this.rebudget);
    this.ctx.budget?.leave();
    this.native?.setThreads(1);
    clearTimeout(this.deadline);
    this.shutdown?.removeEventListener('abort', this.onShutdown);
    this.ctx.cancels.release(this.jobId);
  }
}

/**
 * Runs one attempt of a training job, in steps: {@link startAttempt} (marks it running, counting
 * the attempt), {@link resume} (its last checkpoint, if any), {@link loadData} (dataset and the
 * spec checked against it), {@link trainerFor} (progress events and checkpoints at every
 * epoch end and every `checkpointIntervalMs` within epochs, each written atomically with its
 * event), then {@link finish} with the outcome: every way out (completed, failed, timed out,
 * cancelled, pruned, handed back, retried) is one case of finish.ts, which says what it keeps.
 *
 * Every write is fenced by the attempt number, so an attempt that lost the job (its worker
 * stalled and another took over) stops without effect.
 */
export async function runTrainingJob(ctx: RunContext, jobId: string, attempt: Attempt): Promise<RunOutcome> {
  const started = await startAttempt(ctx, jobId, attempt);
  if (!started) return 'skipped';
  const { a } = started;
  const controls = await AttemptControls.open(ctx, jobId, attempt.shutdown);
  try {
    const outcome = await trainAttempt(ctx, a, started.previous, controls).catch((err: unknown) =>
      outcomeOf(ctx, a, err, { reason: controls.reason, lastEpochEnd: controls.lastEpochEnd }),
    );
    return await finish(ctx, a, outcome);
  } finally {
    controls.close();
  }
}

/** The attempt's steps up to its outcome; what they throw is mapped by {@link outcomeOf}. */
async function trainAttempt(ctx: RunContext, a: AttemptInfo, previous: JobStatus | '', controls: AttemptControls): Promise<Outcome> {
  const { saved, asha } = await resume(ctx, a, previous, controls);
  controls.armDeadline(a.job);
  if (await ctx.jobs.isCancelRequested(a.job.id)) controls.stop(undefined, 'cancelled');
  const loaded = await loadData(ctx, a.job);
  if ('kind' in loaded) return loaded;
  const result = await runResuming(ctx, a.job.id, saved, await trainerFor(ctx, a, controls, asha, loaded));
  return { kind: 'completed', result };
}

/**
 * Announces the attempt (`status` event `running`, with `resumed`, `fromEpoch`, `fromStep` when
 * it continues a checkpoint or an attempt that was running) and, for a sweep trial, its start and
 * ASHA settings: resumed at a rung it was already judged at (the worker died right after the
 * decision), it gets the same answer.
 */
async function resume(ctx: RunContext, a: AttemptInfo, previous: JobStatus | '', controls: AttemptControls): Promise<{ saved: StoredCheckpoint | null; asha: TrialAsha | null }> {
  const { job, attemptNo } = a;
  const saved = await ctx.checkpoints.load(job.id);
  const resumed = saved !== null || previous === 'running';
  await ctx.checkpoints.write(job.id, attemptNo, {
    event: { type: 'status', data: { status: 'running', attempt: attemptNo, ...(resumed ? { resumed: true, fromEpoch: saved?.epoch ?? 0, fromStep: saved?.step ?? 0 } : {}) } },
  });
  if (saved) ctx.log?.({ jobId: job.id, attempt: attemptNo, epoch: saved.epoch, step: saved.step, bytes: saved.bytes }, 'job resumed from checkpoint');
  const asha = await ashaOf(ctx.sweeps, job);
  if (job.sweepId && attemptNo === 1) await ctx.sweeps?.appendEvent(job.sweepId, 'trial.started', { trial: job.sweepTrial, jobId: job.id });
  if (asha && saved && (await rungDecision(ctx.sweeps!, asha, job.id, saved.checkpoint)) === 'prune') controls.stop('pruned', 'pruned');
  return { saved, asha };
}

/**
 * Loads the job's dataset and checks the spec against it as at submit (the dataset or the rules
 * may have changed since): the `failed` outcome when the dataset is gone or the spec does not fit
 * it, else what gives the data to train on (the arrays loaded here the first time; loaded again
 * for a second run of the attempt, since the core consumes them in place).
 */
async function loadData(ctx: RunContext, job: Job): Promise<(() => Promise<DataSet>) | Outcome> {
  const loaded = await ctx.datasets.load(job.datasetId);
  if (!loaded) return { kind: 'failed', error: { code: 'dataset_missing', message: `dataset '${job.datasetId}' no longer exists` } };
  const problems = validateSpec(job.spec as TrainingSpec, { id: loaded.meta.id, rows: loaded.meta.rows, features: loaded.meta.features, targets: loaded.meta.targets, targetValues: loaded.targets });
  if (problems.length > 0) {
    const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    return { kind: 'failed', error: { code: 'invalid_spec', message, path: problems[0].path } };
  }
  const dataOf = (l: NonNullable<typeof loaded>): DataSet => ({
    features: l.features,
    targets: l.targets,
    rows: l.meta.rows,
    featureCount: l.meta.features,
    targetWidth: l.meta.targets,
    ...featureNamesOf(l.meta),
  });
  // Held once: the first run trains on the arrays just loaded, a second run of this attempt (a refused checkpoint) loads them again.
  let unused: DataSet | null = dataOf(loaded);
  return async () => {
    const first = unused;
    unused = null;
    if (first) return first;
    const again = await ctx.datasets.load(job.datasetId);
    if (!again) throw new Error(`dataset '${job.datasetId}' vanished while the job started`);
    return dataOf(again);
  };
}

/**
 * What trains the job (from checkpoint `resumeFrom` when given) with the worker's callbacks:
 * progress events (throttled; an epoch's last one is written with the checkpoint that follows
 * it, so a resumed run never repeats an epoch event and never misses one), checkpoints,
 * epoch-end checkpoints kept as artifacts, `job.progress` webhooks and ASHA rung decisions.
 */
async function trainerFor(ctx: RunContext, a: AttemptInfo, controls: AttemptControls, asha: TrialAsha | null, data: () => Promise<DataSet>): Promise<(resumeFrom: Checkpoint | undefined) => Promise<TrainResult>> {
  const { job, attemptNo } = a;
  const jobId = job.id;
  const spec = job.spec as TrainingSpec;
  const owned = (w: OwnedWrite) => ctx.checkpoints.write(jobId, attemptNo, w);
  const interval = ctx.progressIntervalMs ?? 100;
  const throttle = new ProgressThrottle(interval);
  // job.progress webhooks: only for a job whose own webhook asks for them, throttled.
  const progressHook = ctx.webhooks && job.webhook?.events?.includes('progress') ? job.webhook : undefined;
  const hookTenant = progressHook ? await ctx.jobs.tenantOf(jobId) : null;
  let lastProgressHook = -Infinity;
  let pendingEpoch: Progress | null = null;
  return async (resumeFrom) => {
    controls.lastEpochEnd = resumeFrom?.step === 0 ? resumeFrom : null;
    const eta = new EtaClock(resumeFrom ? resumeFrom.epoch / Math.max(1, spec.epochs) : 0);
    return train(spec, await data(), {
      ...kernelOptions(ctx.kernels, (k) => {
        controls.native = k;
        k.setThreads(ctx.budget?.threads() ?? 1);
        ctx.log?.({ jobId, kernels: k.name, threads: ctx.budget?.threads() ?? 1 }, 'training on native kernels');
      }),
      consumeData: true,
      signal: controls.signal,
      progressEveryMs: Math.max(interval, 50),
      checkpointEveryMs: ctx.checkpointIntervalMs ?? 5000,
      ...(resumeFrom ? { resumeFrom } : {}),
      onProgress: async (p) => {
        if (!throttle.shouldSend(p, performance.now())) return;
        if (p.kind === 'epoch') pendingEpoch = p;
        else await owned({ event: { type: 'progress', data: progressEventData(p) }, progress: progressSnapshot(p, eta) });
      },
      onCheckpoint: async (c) => {
        const p = pendingEpoch;
        pendingEpoch = null;
        await owned({ checkpoint: c, ...(p ? { event: { type: 'progress', data: progressEventData(p) }, progress: progressSnapshot(p, eta) } : {}) });
        if (c.step !== 0) return;
        controls.lastEpochEnd = c;
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
        if (asha && !controls.signal.aborted && (await rungDecision(ctx.sweeps!, asha, jobId, c)) === 'prune') controls.stop('pruned', 'pruned');
      },
    });
  };
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
