/** `sweep create|watch|get|list|trials|cancel`: hyperparameter sweeps with a live trials table. */
import { readFileSync } from 'node:fs';
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, listItems, printJson, table } from '../output.js';
import { streamEvents } from '../sse-client.js';
import { UsageError } from '../spec-flags.js';

const enc = encodeURIComponent;

interface Trial {
  index: number;
  jobId: string;
  params: Record<string, unknown>;
  status: string;
  metric: number | null;
  epochsRun: number;
  prunedAtEpoch?: number;
}
interface Sweep {
  id: string;
  status: string;
  trialCount: number;
  counts: Record<string, number>;
  epochsRun: number;
  best: { trial: number; metric: number; params: Record<string, unknown> } | null;
  spec: { metric: { name: string; goal: string }; parameters: Record<string, unknown> };
  trials?: Trial[];
}

/** Exit code of a watched sweep: 0 completed, 4 cancelled. */
const EXIT_BY_STATUS: Record<string, number> = { completed: 0, running: 0, cancelled: 4 };

const metricText = (m: number | null | undefined) => (m === null || m === undefined ? '-' : Number(m.toPrecision(5)).toString());
const paramText = (v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(4)).toString() : typeof v === 'string' ? v : JSON.stringify(v));

/** The trials table, best first marked with `*`, one column per parameter. */
export function trialsTable(s: Sweep): string {
  const trials = s.trials ?? [];
  const cols: Record<string, (t: Trial) => unknown> = {
    '#': (t) => `${t.index}${s.best?.trial === t.index ? '*' : ''}`,
    status: (t) => t.status,
    [s.spec.metric.name]: (t) => metricText(t.metric),
    epochs: (t) => t.epochsRun,
  };
  for (const p of Object.keys(s.spec.parameters)) cols[p] = (t) => paramText(t.params[p]);
  return table(trials, cols);
}

function summary(s: Sweep): string {
  const counts = Object.entries(s.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  const best = s.best ? `best: trial ${s.best.trial}, ${s.spec.metric.name} ${metricText(s.best.metric)} (${Object.entries(s.best.params).map(([k, v]) => `${k}=${paramText(v)}`).join(', ')})` : 'best: -';
  return `sweep ${s.id} ${s.status}: ${s.trialCount} trials (${counts}), ${s.epochsRun} epochs run; ${best}\n`;
}

/** `sweep create <sweep.json>`: submits (or, with --dry-run, estimates) and follows it unless --detach. */
export async function createSweep(api: ApiClient, io: Io, g: GlobalOptions, file: string, o: { dataset?: string; dryRun?: boolean; detach?: boolean; idempotencyKey?: string }): Promise<number> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (o.dataset) body.datasetId = o.dataset;
  const headers = o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : undefined;
  if (o.dryRun) {
    const est = await api.post<{ trials: number; flops: number; trialSeconds: number; estimatedSeconds: number; throughput: { source: string } }>('/v1/sweeps?dryRun=true', body, { headers });
    if (g.json) printJson(io, est);
    else io.out.write(`${est.trials} trials, ${est.flops.toExponential(2)} FLOP, ~${est.trialSeconds.toFixed(1)} s of training, ~${est.estimatedSeconds.toFixed(1)} s wall clock (throughput: ${est.throughput.source})\n`);
    return 0;
  }
  const s = await api.post<Sweep>('/v1/sweeps', body, { headers });
  if (o.detach) {
    if (g.json) printJson(io, s);
    else io.out.write(`${s.id}\n`);
    return 0;
  }
  io.err.write(`sweep ${s.id}: ${s.trialCount} trials\n`);
  return watchSweep(api, io, g, s.id);
}

/**
 * `sweep watch <id>`: follows the sweep's events; on a terminal the trials table is redrawn in
 * place after each event, on a pipe each event is one line; the final table and the best trial
 * end the output.
 */
export async function watchSweep(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const get = () => api.get<Sweep>(`/v1/sweeps/${enc(id)}`);
  const live = Boolean(io.err.isTTY) && !g.json;
  let drawn = 0;
  const redraw = async () => {
    const text = trialsTable(await get());
    if (drawn) io.err.write(`\x1b[${drawn}A\x1b[J`);
    io.err.write(text);
    drawn = text.split('\n').length - 1;
  };
  if (live) await redraw();
  for await (const ev of streamEvents(api, `/v1/sweeps/${enc(id)}/events`, { terminal: ['sweep.completed', 'sweep.cancelled'] })) {
    if (live) await redraw();
    else if (!g.json) {
      const d = JSON.parse(ev.data) as { trial?: number; status?: string; metric?: number | null; epochsRun?: number };
      io.err.write(`${ev.event}${d.trial !== undefined ? ` trial ${d.trial}` : ''}${d.metric !== undefined ? ` metric ${metricText(d.metric)}` : ''}${d.epochsRun !== undefined ? ` epochs ${d.epochsRun}` : ''}\n`);
    }
  }
  const s = await get();
  if (g.json) printJson(io, s);
  else {
    if (!live) io.out.write(trialsTable(s));
    io.out.write(summary(s));
  }
  return EXIT_BY_STATUS[s.status] ?? 1;
}

export async function getSweep(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const s = await api.get<Sweep>(`/v1/sweeps/${enc(id)}`);
  if (g.json) printJson(io, s);
  else io.out.write(trialsTable(s) + summary(s));
  return 0;
}

export async function listSweeps(api: ApiClient, io: Io, g: GlobalOptions, o: { status?: string; limit?: string; after?: string }): Promise<number> {
  const q = new URLSearchParams(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
  const body = await api.get(`/v1/sweeps${q.size ? `?${q}` : ''}`);
  if (g.json) printJson(io, body);
  else {
    const { items, next } = listItems<Sweep>(body);
    io.out.write(table(items, { id: (s) => s.id, status: (s) => s.status, trials: (s) => s.trialCount, epochs: (s) => s.epochsRun, best: (s) => metricText(s.best?.metric) }));
    if (next) io.err.write(`more: --after ${next}\n`);
  }
  return 0;
}

export async function sweepTrials(api: ApiClient, io: Io, g: GlobalOptions, id: string, csv: boolean): Promise<number> {
  if (csv) io.out.write(await api.get<string>(`/v1/sweeps/${enc(id)}/trials`, { headers: { accept: 'text/csv' }, as: 'text' }));
  else return getSweep(api, io, g, id);
  return 0;
}

export async function cancelSweep(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const s = await api.post<Sweep>(`/v1/sweeps/${enc(id)}/cancel`, undefined);
  if (g.json) printJson(io, s);
  else io.out.write(`${s.id} ${s.status}\n`);
  return 0;
}
