import type { Job } from '../schemas/job.js';
import type { Sweep, SweepTrial, TrialStatus } from '../schemas/sweep.js';
import type { JobStore } from '../storage/job-store.js';
import type { SweepMeta, SweepStore } from '../storage/sweep-store.js';
import { trialMetric } from './scheduler.js';

/** Epochs a job has finished so far. */
function epochsDone(job: Job): number {
  if (job.result) return job.result.epochsRun;
  const p = job.progress;
  return p ? (p.step >= p.stepsPerEpoch ? p.epoch + 1 : p.epoch) : 0;
}

/** The trials table of a sweep: ended trials as recorded, active ones from their job records now. */
export async function sweepTrials(sweeps: SweepStore, jobs: JobStore, meta: SweepMeta): Promise<SweepTrial[]> {
  const active = new Set(await sweeps.activeIndexes(meta.id));
  const out: SweepTrial[] = [];
  for (const t of await sweeps.trials(meta.id)) {
    if (t.status) {
      out.push({ index: t.index, jobId: t.jobId, params: t.params, status: t.status, metric: t.metric ?? null, epochsRun: t.epochsRun ?? 0, ...(t.prunedAtEpoch !== undefined ? { prunedAtEpoch: t.prunedAtEpoch } : {}) });
      continue;
    }
    const job = active.has(t.index) ? await jobs.get(t.jobId) : null;
    const status: TrialStatus = job ? job.status : meta.status === 'cancelled' ? 'cancelled' : 'pending';
    out.push({ index: t.index, jobId: t.jobId, params: t.params, status, metric: job ? trialMetric(job, meta.spec.metric) : null, epochsRun: job ? epochsDone(job) : 0 });
  }
  return out;
}

/** The sweep resource: record, trials table, counts, best and rung decisions. */
export async function sweepView(sweeps: SweepStore, jobs: JobStore, meta: SweepMeta): Promise<Sweep> {
  const trials = await sweepTrials(sweeps, jobs, meta);
  const counts: Record<string, number> = {};
  for (const t of trials) counts[t.status] = (counts[t.status] ?? 0) + 1;
  return {
    ...summaryOf(meta),
    counts,
    epochsRun: trials.reduce((n, t) => n + t.epochsRun, 0),
    trials,
    rungs: await sweeps.decisions(meta.id),
  };
}

/** The list form (no trials table; counts and epochs from the stored outcomes only). */
export function summaryOf(meta: SweepMeta): Omit<Sweep, 'trials' | 'rungs' | 'counts' | 'epochsRun'> {
  const { tenant: _t, ...rest } = meta;
  return rest;
}

const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The trials table as CSV: index, jobId, status, metric, epochsRun, prunedAtEpoch, then one column per parameter. */
export function trialsCsv(trials: SweepTrial[], paramNames: string[]): string {
  const head = ['index', 'jobId', 'status', 'metric', 'epochsRun', 'prunedAtEpoch', ...paramNames];
  const rows = trials.map((t) => [t.index, t.jobId, t.status, t.metric, t.epochsRun, t.prunedAtEpoch, ...paramNames.map((n) => t.params[n])].map(csvCell).join(','));
  return [head.map(csvCell).join(','), ...rows].join('\n') + '\n';
}
