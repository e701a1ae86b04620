/** `predict <job> <file.csv>` and `model <job> -o model.json`. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, printJson, table } from '../output.js';
import { formatNumber } from '../progress-bar.js';
import { UsageError } from '../spec-flags.js';

const enc = encodeURIComponent;

/** What `predict` needs of the model: its input width and, when it kept them, its feature names. */
export interface ModelInputs {
  inputSize: number;
  featureNames?: string[];
}

/**
 * Feature rows from a CSV with a header, read by the file's own header: when the model kept its
 * feature names, those columns are picked by name (any order; other columns such as the target
 * are ignored); a model without names (stored before they were kept) takes the columns left after
 * `target`, or, without `target`, all of them or all but the last when the file has exactly one
 * more (the upload default). Never reads the job's dataset, which may be gone.
 */
export function featuresFromCsv(text: string, model: ModelInputs, target?: string): { rows: number[][]; ignored: string[] } {
  const records = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  if (records.length < 2) throw new UsageError('the CSV needs a header row and at least one data row');
  const header = records[0];
  const shownHeader = header.length > 20 ? `${header.slice(0, 20).join(', ')}, …` : header.join(', ');
  if (target !== undefined && !header.includes(target)) throw new UsageError(`column "${target}" is not in the header (${shownHeader})`);
  let pick: number[];
  if (model.featureNames) {
    if (target !== undefined && model.featureNames.includes(target)) throw new UsageError(`column "${target}" is an input of the model (${model.featureNames.join(', ')}); it cannot be the target`);
    const missing = model.featureNames.filter((n) => !header.includes(n));
    if (missing.length) throw new UsageError(`the model takes columns ${model.featureNames.join(', ')}; the header (${shownHeader}) lacks ${missing.join(', ')}`);
    pick = model.featureNames.map((n) => header.indexOf(n));
  } else {
    const rest = header.map((_, i) => i).filter((i) => header[i] !== target);
    if (rest.length === model.inputSize) pick = rest;
    else if (target === undefined && header.length === model.inputSize + 1) pick = rest.slice(0, -1);
    else
      throw new UsageError(
        `the model takes ${model.inputSize} columns and stores no column names; the file has ${rest.length}${target !== undefined ? ` besides "${target}"` : ''} (${shownHeader}): pass --target <column> or send only the feature columns`,
      );
  }
  const picked = new Set(pick);
  const rows = records.slice(1).map((r, i) =>
    pick.map((k) => {
      const cell = r[k];
      const x = Number(cell);
      if (cell === '' || !Number.isFinite(x)) throw new UsageError(`row ${i + 2}, column ${k + 1} (${header[k]}): "${cell}" is not a number`);
      return x;
    }),
  );
  return { rows, ignored: header.filter((_, i) => !picked.has(i)) };
}

export async function predict(api: ApiClient, io: Io, g: GlobalOptions, id: string, file: string, opts: { target?: string; output?: string }): Promise<number> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code ?? e.message}`);
  });
  // the model says what it takes (its stored column names), whatever became of its dataset
  const model = await api.get<ModelInputs>(`/v1/jobs/${enc(id)}/model`);
  const { rows, ignored } = featuresFromCsv(text, model, opts.target);
  if (ignored.length && !g.json) io.err.write(`ignoring column${ignored.length > 1 ? 's' : ''} ${ignored.map((c) => `"${c}"`).join(', ')}\n`);
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

export async function downloadModel(api: ApiClient, io: Io, g: GlobalOptions, id: string, output?: string, format = 'json'): Promise<number> {
  if (!['json', 'onnx', 'tfjs'].includes(format)) throw new UsageError(`--format must be json, onnx or tfjs, not "${format}"`);
  if (format === 'onnx') {
    const res = await api.get<Response>(`/v1/jobs/${enc(id)}/model?format=onnx`, { as: 'response', headers: { accept: 'application/octet-stream' } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (!output || output === '-') {
      io.out.write(bytes);
      return 0;
    }
    await writeFile(output, bytes);
    if (g.json) printJson(io, { id, file: output, bytes: bytes.length, format });
    else io.err.write(`wrote ${output} (${bytes.length} bytes, ONNX opset 13: input "input" [N, features], output "output")\n`);
    return 0;
  }
  if (format === 'tfjs') {
    const exp = await api.get<{ files: { 'model.json': unknown; 'weights.bin': string } }>(`/v1/jobs/${enc(id)}/model?format=tfjs`);
    if (!output || output === '-') {
      printJson(io, exp);
      return 0;
    }
    // A directory with the two files tf.loadLayersModel reads.
    await mkdir(output, { recursive: true });
    const weights = Buffer.from(exp.files['weights.bin'], 'base64');
    await writeFile(join(output, 'model.json'), JSON.stringify(exp.files['model.json']));
    await writeFile(join(output, 'weights.bin'), weights);
    if (g.json) printJson(io, { id, dir: output, files: ['model.json', 'weights.bin'], weightsBytes: weights.length, format });
    else io.err.write(`wrote ${join(output, 'model.json')} and weights.bin (${weights.length} bytes); tf.loadLayersModel('file://${join(output, 'model.json')}')\n`);
    return 0;
  }
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

interface EvaluationView {
  rows: number;
  loss: number;
  accuracy?: number;
  perClass?: { class: number; precision: number; recall: number; f1: number; support: number }[];
  confusionMatrix?: number[][];
  mse?: number;
  mae?: number;
  r2?: number;
}

/** The confusion matrix as a text grid: rows are true classes, columns predicted ones. */
export function confusionGrid(m: number[][]): string {
  const w = Math.max(4, ...m.flat().map((v) => String(v).length));
  const head = ' '.repeat(7) + m.map((_, j) => String(j).padStart(w)).join(' ') + '  ← predicted';
  return [head, ...m.map((row, i) => `true ${String(i).padStart(2)} ` + row.map((v) => String(v).padStart(w)).join(' '))].join('\n') + '\n';
}

/** `evaluate <job> <dataset>`: the model's metrics on a stored labelled dataset. */
export async function evaluate(api: ApiClient, io: Io, g: GlobalOptions, jobId: string, datasetId: string): Promise<number> {
  const r = await api.post<EvaluationView>(`/v1/jobs/${enc(jobId)}/evaluate`, { datasetId });
  if (g.json) {
    printJson(io, r);
    return 0;
  }
  const f = (x: number | undefined) => formatNumber(x);
  if (r.accuracy !== undefined && r.perClass && r.confusionMatrix) {
    io.out.write(`rows ${r.rows}  loss ${f(r.loss)}  accuracy ${(r.accuracy * 100).toFixed(2)}%\n\n`);
    io.out.write(
      table(r.perClass, {
        class: (c) => c.class,
        precision: (c) => c.precision.toFixed(4),
        recall: (c) => c.recall.toFixed(4),
        f1: (c) => c.f1.toFixed(4),
        support: (c) => c.support,
      }),
    );
    io.out.write(`\nconfusion matrix (rows: true class, columns: predicted)\n${confusionGrid(r.confusionMatrix)}`);
  } else io.out.write(`rows ${r.rows}  loss ${f(r.loss)}  mse ${f(r.mse)}  mae ${f(r.mae)}  r2 ${f(r.r2)}\n`);
  return 0;
}
