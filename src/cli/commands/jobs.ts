/** `train`, `jobs list|get|watch|cancel`: submit a job and follow its SSE stream. */
import { readFile } from 'node:fs/promises';
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, listItems, printJson, table } from '../output.js';
import { formatNumber, ProgressBar } from '../progress-bar.js';
import { buildSpec, type SpecFlags, UsageError } from '../spec-flags.js';
import { streamEvents } from '../sse-client.js';
import type { JobStatus, JobView, ProgressEvent } from '../types.js';

/** Exit code per terminal status: 0 completed, 3 failed, 4 cancelled. */
export const EXIT_BY_STATUS: Record<JobStatus, number> = { completed: 0, failed: 3, cancelled: 4, queued: 0, running: 0 };

const enc = encodeURIComponent;

/** Final loss of a job for tables: the result's, else the last reported progress loss. */
export function finalLoss(j: JobView): number | undefined {
  return j.result?.loss ?? j.progress?.loss ?? undefined;
}

export async function train(api: ApiClient, io: Io, g: GlobalOptions, datasetId: string | undefined, flags: SpecFlags & { detach?: boolean; 'idempotency-key'?: string; quiet?: boolean }): Promise<number> {
  let base: Record<string, unknown> = {};
  if (flags.spec) {
    const text = await readFile(String(flags.spec), 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --spec ${flags.spec}: ${e.code ?? e.message}`);
    });
    try {
      base = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--spec ${flags.spec} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const spec = buildSpec(base, flags);
  const body = { ...spec, datasetId: datasetId ?? (base.datasetId as string | undefined) };
  if (!body.datasetId) throw new UsageError('train needs --dataset <id> (or datasetId in --spec)');
  const headers: Record<string, string> = {};
  if (flags['idempotency-key']) headers['idempotency-key'] = String(flags['idempotency-key']);
  const job = await api.post<JobView>('/v1/jobs', body, { headers });
  if (flags.detach) {
    if (g.json) printJson(io, job);
    else io.out.write(`${job.id}\n`);
    return 0;
  }
  if (!g.json) io.err.write(`job ${job.id} ${job.status}\n`);
  return watch(api, io, g, job.id, { quiet: Boolean(flags.quiet) });
}

/**
 * Follow a job's events until its terminal event; draws the progress bar on stderr.
 * Returns the exit code for the terminal status.
 */
export async function watch(api: ApiClient, io: Io, g: GlobalOptions, id: string, opts: { quiet?: boolean } = {}): Promise<number> {
  const bar = new ProgressBar({ stream: io.err });
  const showBar = !g.json && !opts.quiet;
  let terminal: string | undefined;
  for await (const ev of streamEvents(api, `/v1/jobs/${enc(id)}/events`, {
    onReconnect: (n, last, err) => showBar && bar.note(`stream interrupted (${(err as Error)?.message ?? err}); reconnecting #${n} after event ${last ?? '-'}`),
  })) {
    if (ev.event === 'progress' && showBar) {
      try {
        bar.update(JSON.parse(ev.data) as ProgressEvent);
      } catch {
        // a malformed event must not kill the watch
      }
    } else if (ev.event === 'status' && showBar) {
      const s = safeParse(ev.data) as { status?: string; message?: string } | undefined;
      bar.note(`status: ${s?.status ?? ev.data}${s?.message ? ` (${s.message})` : ''}`);
    } else if (ev.event === 'completed' || ev.event === 'failed' || ev.event === 'cancelled') {
      terminal = ev.event;
    }
  }
  bar.done();
  // the terminal event carries the job, but read it fresh so the output has the final record
  const job = await api.get<JobView>(`/v1/jobs/${enc(id)}`);
  const status = (job.status ?? terminal) as JobStatus;
  if (g.json) printJson(io, job);
  else printSummary(io, job);
  return EXIT_BY_STATUS[status] ?? 1;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** The human summary after a job ends (stdout: the id and status; details on stderr). */
export function printSummary(io: Io, j: JobView): void {
  const r = j.result;
  if (j.status === 'completed' && r) {
    const acc = r.accuracy !== undefined ? ` accuracy ${(r.accuracy * 100).toFixed(2)}%` : '';
    const val = r.valLoss !== undefined ? ` val loss ${formatNumber(r.valLoss)}` : '';
    const vacc = r.valAccuracy !== undefined ? ` val accuracy ${(r.valAccuracy * 100).toFixed(2)}%` : '';
    io.err.write(`completed: loss ${formatNumber(r.loss)}${val}${acc}${vacc}, ${r.epochsRun} epochs${r.stoppedEarly ? ' (stopped early)' : ''}, ${(r.durationMs / 1000).toFixed(1)} s, ${Math.round(r.samplesPerSecond)} samples/s\n`);
  } else if (j.status === 'failed') {
    io.err.write(`failed: ${j.error?.code ?? 'error'}: ${j.error?.message ?? 'no message'}\n`);
  } else {
    io.err.write(`${j.status}\n`);
  }
  io.out.write(`${j.id} ${j.status}\n`);
}

export async function listJobs(api: ApiClient, io: Io, g: GlobalOptions, opts: { status?: string; limit?: string; after?: string }): Promise<number> {
  const q = new URLSearchParams();
  if (opts.status) q.set('status', opts.status);
  if (opts.limit) q.set('limit', opts.limit);
  if (opts.after) q.set('after', opts.after);
  const qs = q.size ? `?${q}` : '';
  const { items, next } = listItems<JobView>(await api.get(`/v1/jobs${qs}`));
  if (g.json) {
    printJson(io, items);
    return 0;
  }
  io.out.write(table(items, {
    id: (j) => j.id,
    status: (j) => j.status,
    dataset: (j) => j.datasetId,
    optimizer: (j) => j.spec?.optimizer?.type,
    epoch: (j) => (j.progress?.epochs ? `${Math.min((j.progress.epoch ?? 0) + 1, j.progress.epochs)}/${j.progress.epochs}` : undefined),
    loss: (j) => formatNumber(finalLoss(j)),
    created: (j) => j.createdAt,
  }));
  if (next) io.err.write(`more: --after ${next}\n`);
  return 0;
}

export async function getJob(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const j = await api.get<JobView>(`/v1/jobs/${enc(id)}`);
  if (g.json) printJson(io, j);
  else printSummary(io, j);
  return 0;
}

export async function cancelJob(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const j = await api.post<JobView>(`/v1/jobs/${enc(id)}/cancel`);
  if (g.json) printJson(io, j);
  else io.out.write(`${j?.id ?? id} ${j?.status ?? 'cancelled'}\n`);
  return 0;
}
