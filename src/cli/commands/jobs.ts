/** `train`, `jobs list|get|watch|cancel`: submit a job and follow its SSE stream. */
import { readFile } from 'node:fs/promises';
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, listItems, printJson, table } from '../output.js';
import { formatNumber, historyLine, ProgressBar } from '../progress-bar.js';
import { buildSpec, localSpecOptions, type SpecFlags, UsageError } from '../spec-flags.js';
import type { ServedSpecOptions } from '../../ui/public/js/spec-builder.js';
import { streamEvents } from '../sse-client.js';
import type { EpochMetrics } from '../../core/types.js';
import type { JobStatus, JobView, ProgressEvent } from '../types.js';

/** Exit code per terminal status: 0 completed, 3 failed, 4 cancelled. */
export const EXIT_BY_STATUS: Record<JobStatus, number> = { completed: 0, failed: 3, cancelled: 4, pruned: 5, queued: 0, running: 0 };

const enc = encodeURIComponent;

/** Final loss of a job for tables: the result's, else the last reported progress loss. */
export function finalLoss(j: JobView): number | undefined {
  return j.result?.loss ?? j.progress?.loss ?? undefined;
}

export async function train(api: ApiClient, io: Io, g: GlobalOptions, datasetId: string | undefined, flags: SpecFlags & { detach?: boolean; 'idempotency-key'?: string; quiet?: boolean; webhook?: string; 'from-checkpoint'?: string }): Promise<number> {
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
  // The server's choices and defaults; a server without /v1/spec/options gets the CLI's own.
  const options = await api.get<ServedSpecOptions>('/v1/spec/options').catch(() => localSpecOptions());
  const spec = buildSpec(base, flags, options);
  const body: Record<string, unknown> = { ...spec, datasetId: datasetId ?? (base.datasetId as string | undefined) };
  // Job fields that are not training spec: from --spec, overridden by their flags.
  for (const k of ['webhook', 'fromCheckpoint', 'maxDurationSeconds'] as const) if (base[k] !== undefined) body[k] = base[k];
  if (flags.webhook) body.webhook = { url: String(flags.webhook) };
  if (flags['from-checkpoint']) {
    const m = /^([^:]+)(?::(\d+))?$/.exec(String(flags['from-checkpoint']));
    if (!m) throw new UsageError('--from-checkpoint takes <job-id> or <job-id>:<epoch>');
    body.fromCheckpoint = { jobId: m[1], ...(m[2] ? { epoch: Number(m[2]) } : {}) };
  }
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
    } else if (ev.event === 'completed' || ev.event === 'failed' || ev.event === 'cancelled' || ev.event === 'pruned') {
      terminal = ev.event;
    }
  }
  bar.done();
  if (showBar && !io.err.isTTY) await fillSkippedEpochs(api, io, id, bar);
  // the terminal event carries the job, but read it fresh so the output has the final record
  const job = await api.get<JobView>(`/v1/jobs/${enc(id)}`);
  const status = (job.status ?? terminal) as JobStatus;
  if (g.json) printJson(io, job);
  else printSummary(io, job);
  return EXIT_BY_STATUS[status] ?? 1;
}

/**
 * On a pipe, print the epochs the server's progress throttle skipped, from the full history
 * (`GET /v1/jobs/{id}/metrics`), so the log holds one line per epoch run.
 */
async function fillSkippedEpochs(api: ApiClient, io: Io, id: string, bar: ProgressBar): Promise<void> {
  let history: EpochMetrics[];
  try {
    history = (await api.get<{ history?: EpochMetrics[] }>(`/v1/jobs/${enc(id)}/metrics`))?.history ?? [];
  } catch {
    return; // the history is a bonus; the job's outcome still decides the exit code
  }
  const missing = history.filter((m) => !bar.loggedEpochs.has(m.epoch));
  if (!missing.length) return;
  io.err.write(`epochs skipped by the event throttle (from /metrics):\n`);
  for (const m of missing) io.err.write(historyLine(m, bar.epochs) + '\n');
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
    const path = (j.error as { path?: string } | undefined)?.path;
    io.err.write(`failed: ${j.error?.code ?? 'error'}${path ? ` at ${path}` : ''}: ${j.error?.message ?? 'no message'}\n`);
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
  const page = await api.get(`/v1/jobs${qs}`);
  if (g.json) {
    // the API's page as is ({ items, next }), so scripts can follow the cursor
    printJson(io, page);
    return 0;
  }
  const { items, next } = listItems<JobView>(page);
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
  else io.out.write(describeJob(j));
  return 0;
}

const pct = (x: number | undefined) => (x === undefined ? undefined : `${(x * 100).toFixed(2)}%`);

/** A readable multi-line summary of a job record (`jobs get`): one `key: value` per line. */
export function describeJob(j: JobView): string {
  const s = j.spec ?? ({} as JobView['spec']);
  const o = s.optimizer as (JobView['spec']['optimizer'] & { learningRate?: number }) | undefined;
  const p = j.progress;
  const r = j.result;
  const e = j.error as (JobView['error'] & { path?: string; epoch?: number; step?: number }) | undefined;
  const rows: [string, unknown][] = [
    ['id', j.id],
    ['status', j.status],
    ['dataset', j.datasetId ?? s.datasetId],
    ['model', s.model?.layers?.map((l) => `${l.units}:${l.activation}`).join(',')],
    ['optimizer', o ? `${o.type}${o.learningRate !== undefined ? ` lr ${o.learningRate}` : ''}` : undefined],
    ['schedule', s.schedule ? s.schedule.type : undefined],
    ['epochs', s.epochs !== undefined ? `${s.epochs}, batch size ${s.batchSize}` : undefined],
    ['progress', p?.epochs ? `epoch ${Math.min((p.epoch ?? 0) + 1, p.epochs)}/${p.epochs}${p.step !== undefined && p.stepsPerEpoch ? ` step ${p.step}/${p.stepsPerEpoch}` : ''} loss ${formatNumber(p.loss)}` : undefined],
    ['loss', r ? `${formatNumber(r.loss)}${r.valLoss !== undefined ? ` (val ${formatNumber(r.valLoss)})` : ''}` : undefined],
    ['accuracy', r?.accuracy !== undefined ? `${pct(r.accuracy)}${r.valAccuracy !== undefined ? ` (val ${pct(r.valAccuracy)})` : ''}` : undefined],
    ['epochs run', r ? `${r.epochsRun}${r.stoppedEarly ? ' (stopped early)' : ''}` : undefined],
    ['weights hash', r?.weightsHash],
    ['error', e ? `${e.code}${e.path ? ` at ${e.path}` : ''}${e.epoch !== undefined ? ` (epoch ${e.epoch}${e.step !== undefined ? ` step ${e.step}` : ''})` : ''}: ${e.message}` : undefined],
    ['created', j.createdAt],
    ['started', j.startedAt],
    ['finished', j.finishedAt],
  ];
  const shown = rows.filter(([, v]) => v !== undefined && v !== null && v !== '');
  const w = Math.max(...shown.map(([k]) => k.length)) + 1;
  return shown.map(([k, v]) => `${`${k}:`.padEnd(w)} ${v}`).join('\n') + '\n';
}

export async function cancelJob(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const j = await api.post<JobView>(`/v1/jobs/${enc(id)}/cancel`);
  if (g.json) printJson(io, j);
  else io.out.write(`${j?.id ?? id} ${j?.status ?? 'cancelled'}\n`);
  return 0;
}
