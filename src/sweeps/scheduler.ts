import type { RedisClient } from '../queue/connection.js';
import type { TrainingQueue } from '../queue/training-queue.js';
import { TERMINAL_STATUSES, type Job } from '../schemas/job.js';
import type { SweepBest, SweepMetric } from '../schemas/sweep.js';
import type { JobSubmission } from '../schemas/training-spec.js';
import { tryReserveActiveJob } from '../storage/active-jobs.js';
import type { JobStore } from '../storage/job-store.js';
import type { Keys } from '../storage/keys.js';
import type { SweepEventType, SweepMeta, SweepStore, StoredTrial } from '../storage/sweep-store.js';
import { applyParams } from './search-space.js';

/** A trial claimed this long ago whose job record still does not exist lost its creator (crash): reconciliation creates it. */
const ORPHAN_CLAIM_MS = 30_000;
/** Trials queued or running at once when the sweep does not say. */
export const DEFAULT_MAX_CONCURRENT = 2;

/** What a {@link SweepScheduler} works with. */
export interface SweepSchedulerDeps {
  redis: RedisClient;
  keys: Keys;
  jobs: JobStore;
  sweeps: SweepStore;
  queue: TrainingQueue;
  /** MAX_ACTIVE_JOBS_PER_TENANT: trials count against it like any job; a trial waits for a free place. */
  maxActivePerTenant: number;
  log?: (obj: object, msg: string) => void;
  /**
   * Called once when a sweep ends (completed, or cancelled), with its final record. The place for
   * notifications (webhooks) to hook in. Errors are logged, never thrown.
   */
  onSweepEnd?: (sweep: SweepMeta) => void | Promise<void>;
}

/** The sweep metric of a finished job (its result), or null. */
export function trialMetric(job: Pick<Job, 'result' | 'progress'>, metric: SweepMetric): number | null {
  const r = job.result as Record<string, unknown> | undefined;
  const v = r?.[metric.name];
  if (typeof v === 'number') return v;
  if (!r && job.progress) {
    if (metric.name === 'valLoss') return job.progress.valLoss ?? null;
    if (metric.name === 'loss') return job.progress.loss;
  }
  return null;
}

/** Lower is better: the metric itself when minimized, its negation when maximized. */
export const scoreOf = (value: number, metric: SweepMetric) => (metric.goal === 'minimize' ? value : -value);

const EVENT_OF: Record<string, SweepEventType> = { completed: 'trial.completed', pruned: 'trial.pruned', failed: 'trial.failed', cancelled: 'trial.cancelled' };

/**
 * Runs sweeps: gives pending trials a job while fewer than `maxConcurrent` are active, records
 * trials whose job ended (events, best, completion), and cancels. {@link SweepScheduler.settle}
 * is idempotent and safe to call from any process at any time (every step is an atomic script
 * or an idempotent write), so the API calls it on submit and cancel, workers when a trial's job
 * ends and periodically for every running sweep (which also repairs a crash between steps).
 */
export class SweepScheduler {
  constructor(private readonly d: SweepSchedulerDeps) {}

  /** The job submission of trial `t` of sweep `s`. */
  static trialSubmission(s: Pick<SweepMeta, 'datasetId' | 'spec'>, params: Record<string, unknown>): JobSubmission {
    return {
      datasetId: s.datasetId,
      ...applyParams(s.spec.base, params),
      ...(s.spec.maxDurationSeconds ? { maxDurationSeconds: s.spec.maxDurationSeconds } : {}),
    } as JobSubmission;
  }

  /**
   * Brings sweep `id` up to date: ends finished trials, starts pending ones, retires it when done.
   * With `reconcile` (the periodic pass) queued trials are also enqueued again (a no-op unless lost).
   */
  async settle(id: string, { reconcile = false } = {}): Promise<void> {
    const { sweeps, jobs } = this.d;
    let meta = await sweeps.meta(id);
    if (!meta) return;
    for (const index of await sweeps.activeIndexes(id)) {
      const trial = await sweeps.trial(id, index);
      if (!trial) continue;
      const job = await jobs.get(trial.jobId);
      if (!job) {
        const at = await sweeps.claimedAt(id, index);
        if (meta.status === 'running' && at !== null && Date.now() - at > ORPHAN_CLAIM_MS) await this.startTrial(meta, trial, false);
        else if (meta.status !== 'running') await sweeps.endTrial(id, { ...trial, status: 'cancelled', metric: null, epochsRun: 0 }, { type: 'trial.cancelled', data: { trial: index, jobId: trial.jobId } }, undefined, undefined);
        continue;
      }
      const ended = TERMINAL_STATUSES.includes(job.status) ? job : meta.status === 'cancelled' ? await this.cancelJob(job) : null;
      if (ended) await this.endTrial(meta, trial, ended);
      // Queued but maybe never enqueued (the queue failed right after the job was created): adding
      // the same id again is a no-op while BullMQ holds it.
      else if (job.status === 'queued' && reconcile) await this.d.queue.enqueue(job.id, { sweepId: id });
    }
    meta = (await sweeps.meta(id)) ?? meta;
    if (meta.status === 'running') await this.fill(meta);
    else if ((await sweeps.activeIndexes(id)).length === 0) await sweeps.retire(id);
  }

  /** Settles every running sweep (the workers' periodic reconciliation). */
  async settleAll(): Promise<void> {
    for (const id of await this.d.sweeps.running()) await this.settle(id, { reconcile: true }).catch((err: unknown) => this.d.log?.({ sweepId: id, err: String(err) }, 'sweep reconcile failed'));
  }

  /** Cancels a running sweep: no trial starts any more, queued trials are cancelled, running ones stop within a batch. */
  async cancel(id: string): Promise<boolean> {
    const done = await this.d.sweeps.cancel(id);
    if (done) {
      const meta = await this.d.sweeps.meta(id);
      if (meta) await this.ended(meta);
    }
    await this.settle(id);
    return done;
  }

  private async fill(meta: SweepMeta): Promise<void> {
    const { sweeps } = this.d;
    for (;;) {
      const index = await sweeps.claim(meta.id, meta.spec.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
      if (index === null) return;
      const trial = await sweeps.trial(meta.id, index);
      if (!trial) return;
      if (!(await this.startTrial(meta, trial, true))) return;
    }
  }

  /** Creates and enqueues trial `t`'s job; false when the tenant is at its active-job cap (the claim is undone). */
  private async startTrial(meta: SweepMeta, t: StoredTrial, claimedNow: boolean): Promise<boolean> {
    const { jobs, sweeps, queue } = this.d;
    const n = await tryReserveActiveJob(this.d.redis, this.d.keys, meta.tenant, t.jobId, this.d.maxActivePerTenant);
    if (n <= 0) {
      if (claimedNow) await sweeps.unclaim(meta.id, t.index);
      this.d.log?.({ sweepId: meta.id, trial: t.index, active: -n }, 'sweep trial waits: tenant at MAX_ACTIVE_JOBS_PER_TENANT');
      return false;
    }
    if (!(await jobs.get(t.jobId))) await jobs.create(meta.tenant, SweepScheduler.trialSubmission(meta, t.params), t.jobId, { sweep: { id: meta.id, trial: t.index } });
    await queue.enqueue(t.jobId, { sweepId: meta.id });
    this.d.log?.({ sweepId: meta.id, trial: t.index, jobId: t.jobId }, 'sweep trial queued');
    return true;
  }

  private async endTrial(meta: SweepMeta, t: StoredTrial, job: Job): Promise<void> {
    const metric = trialMetric(job, meta.spec.metric);
    const epochsRun = job.result?.epochsRun ?? 0;
    const ended: StoredTrial = {
      ...t,
      status: job.status,
      metric,
      epochsRun,
      ...(job.status === 'pruned' ? { prunedAtEpoch: epochsRun } : {}),
    };
    // Only a trial that ran its whole budget competes for the best (a pruned one stopped early on purpose).
    const competes = job.status === 'completed' && metric !== null;
    const best: SweepBest | undefined = competes ? { trial: t.index, jobId: t.jobId, metric: metric!, params: t.params } : undefined;
    const r = await this.d.sweeps.endTrial(
      meta.id,
      ended,
      { type: EVENT_OF[job.status] ?? 'trial.failed', data: { trial: t.index, jobId: t.jobId, status: job.status, metric, epochsRun, params: t.params, ...(job.error ? { error: job.error } : {}) } },
      competes ? scoreOf(metric!, meta.spec.metric) : undefined,
      best,
    );
    if (r.ended) this.d.log?.({ sweepId: meta.id, trial: t.index, status: job.status, metric, epochsRun }, 'sweep trial ended');
    if (r.completed) {
      const final = await this.d.sweeps.meta(meta.id);
      if (final) await this.ended(final);
    }
  }

  /** Cancels a trial's job: a queued one at once (returned, ended), a running one within a batch (null: it ends later). */
  private async cancelJob(job: Job): Promise<Job | null> {
    const { jobs, queue } = this.d;
    const done = await jobs.finish(job.id, ['queued'], 'cancelled', { error: { code: 'cancelled', message: 'its sweep was cancelled' } });
    if (done.applied) {
      await queue.removeWaiting(job.id);
      return jobs.get(job.id);
    }
    if (done.previous === 'running' && !job.cancelRequested) await jobs.requestCancel(job.id);
    return null;
  }

  private async ended(meta: SweepMeta): Promise<void> {
    this.d.log?.({ sweepId: meta.id, status: meta.status, best: meta.best }, 'sweep ended');
    try {
      await this.d.onSweepEnd?.(meta);
    } catch (err) {
      this.d.log?.({ sweepId: meta.id, err: String(err) }, 'onSweepEnd failed');
    }
  }
}
