/** `predict <job> <file.csv>` and `model <job> -o model.json`. */
import { readFile, writeFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, printJson } from '../output.js';
import { UsageError } from '../spec-flags.js';
import type { DatasetView, JobView } from '../types.js';

const enc = encodeURIComponent;

/**
 * Feature rows from a CSV with a header. Drops `target` when named; otherwise, when the file
 * has exactly one column more than the model's inputs, drops the last one (the upload default).
 */
export function featuresFromCsv(text: string, inputs: number | undefined, target?: string): { rows: number[][]; dropped?: string } {
  const records = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  if (records.length < 2) throw new UsageError('the CSV needs a header row and at least one data row');
  const header = records[0];
  let drop = -1;
  if (target !== undefined) {
    drop = header.indexOf(target);
    if (drop < 0) throw new UsageError(`column "${target}" is not in the header (${header.join(', ')})`);
  } else if (inputs !== undefined && header.length === inputs + 1) drop = header.length - 1;
  const rows = records.slice(1).map((r, i) => r.filter((_, k) => k !== drop).map((cell, k) => {
    const x = Number(cell);
    if (cell === '' || !Number.isFinite(x)) throw new UsageError(`row ${i + 2}, column ${k + 1}: "${cell}" is not a number`);
    return x;
  }));
  return { rows, dropped: drop >= 0 ? header[drop] : undefined };
}

export async function predict(api: ApiClient, io: Io, g: GlobalOptions, id: string, file: string, opts: { target?: string; output?: string }): Promise<number> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code ?? e.message}`);
  });
  const job = await api.get<JobView>(`/v1/jobs/${enc(id)}`);
  const ds = await api.get<DatasetView>(`/v1/datasets/${enc(job.datasetId)}`).catch(() => undefined);
  const { rows, dropped } = featuresFromCsv(text, ds?.features, opts.target);
  if (dropped !== undefined && !g.json) io.err.write(`ignoring column "${dropped}"\n`);
  const res = await api.post<{ predictions: unknown[]; probabilities?: number[][] }>(`/v1/jobs/${enc(id)}/predict`, { features: rows });
  if (opts.output) await writeFile(opts.output, JSON.stringify(res, null, 2) + '\n');
  if (g.json) printJson(io, res);
  else if (!opts.output) {
    for (let i = 0; i < res.predictions.length; i++) {
      const p = res.predictions[i];
      const probs = res.probabilities?.[i];
      const conf = probs ? `\t${Math.max(...probs).toFixed(4)}` : '';
      io.out.write(`${Array.isArray(p) ? p.join(',') : p}${conf}\n`);
    }
  } else io.err.write(`wrote ${res.predictions.length} predictions to ${opts.output}\n`);
  return 0;
}

export async function downloadModel(api: ApiClient, io: Io, g: GlobalOptions, id: string, output?: string): Promise<number> {
  const text = await api.get<string>(`/v1/jobs/${enc(id)}/model`, { as: 'text' });
  if (!output || output === '-') {
    io.out.write(text.endsWith('\n') ? text : text + '\n');
    return 0;
  }
  await writeFile(output, text);
  const m = JSON.parse(text) as { layers?: unknown[]; weightsHash?: string };
  if (g.json) printJson(io, { id, file: output, bytes: Buffer.byteLength(text), weightsHash: m.weightsHash });
  else io.err.write(`wrote ${output} (${Buffer.byteLength(text)} bytes, ${m.layers?.length ?? '?'} layers, weights ${m.weightsHash ?? '?'})\n`);
  return 0;
}
