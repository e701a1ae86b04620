import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { predict, type Model, type Prediction } from '../core/index.js';
import { csvProblem, type TableLimits } from './ingest/csv-table.js';
import { readRows } from './ingest/read-table.js';

/** Rows predicted at once (bounds the batch buffer and the JS arrays `predict` returns). */
const BATCH_ROWS = 1024;

/** Options of {@link bulkPredict}. */
export interface BulkPredictOptions {
  model: Model;
  /** The feature columns the model was trained on, in order, when the training data named them. */
  columns?: string[];
  /** The training data's target column(s): ignored when a CSV has them. */
  targetColumns?: string[];
  /** What to answer: CSV rows, or the JSON predict answer. */
  media: 'text/csv' | 'application/json';
  maxBytes: number;
  limits: TableLimits;
  gzip?: boolean;
}

/**
 * Which header column feeds which model input (`inputs[j]` = the index of input j within a row
 * without the target column), and the target column (-1 when absent). 400 at `csv:1` when the
 * header does not name the model's features.
 */
export function mapColumns(header: string[], model: Model, columns?: string[], targetColumns?: string[]): { target: number; inputs: number[] } {
  const F = model.inputSize;
  if (!columns) {
    if (header.length !== F)
      throw csvProblem(`the CSV has ${header.length} columns; this model's training data had no column names, so send exactly its ${F} feature columns in the training order`, 1);
    return { target: -1, inputs: header.map((_, i) => i) };
  }
  const target = targetColumns?.length === 1 ? header.indexOf(targetColumns[0]) : -1;
  const rest = header.filter((_, i) => i !== target);
  const where = new Map(rest.map((h, i) => [h, i]));
  const missing = columns.filter((c) => !where.has(c));
  if (missing.length)
    throw csvProblem(`the CSV has no column${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).map((c) => `'${c.slice(0, 60)}'`).join(', ')}${missing.length > 10 ? ', …' : ''}; the model takes ${F} features named ${columns.slice(0, 5).join(', ')}${F > 5 ? ', …' : ''}`, 1);
  const known = new Set(columns);
  const extra = rest.findIndex((h) => !known.has(h));
  if (extra >= 0) throw csvProblem(`column '${rest[extra].slice(0, 60)}' is not a feature of this model (nor its target); drop it`, 1, header.indexOf(rest[extra]) + 1);
  return { target, inputs: columns.map((c) => where.get(c)!) };
}

/** The CSV header of the answer. */
function csvHeader(model: Model): string {
  const out = model.layers[model.layers.length - 1].units;
  if (model.task === 'classification') return ['prediction', ...Array.from({ length: out }, (_, k) => `probability_${k}`)].join(',');
  if (out === 1) return model.task === 'binary' ? 'prediction,probability' : 'prediction';
  const cols = Array.from({ length: out }, (_, k) => `prediction_${k}`);
  return (model.task === 'binary' ? [...cols, ...cols.map((_, k) => `probability_${k}`)] : cols).join(',');
}

/** CSV lines of one batch: the prediction(s), then the probabilities. */
function csvLines(p: Prediction): string {
  let s = '';
  for (let r = 0; r < p.predictions.length; r++) {
    const v = p.predictions[r];
    s += typeof v === 'number' ? String(v) : v.join(',');
    if (p.probabilities) s += ',' + p.probabilities[r].join(',');
    s += '\n';
  }
  return s;
}

/**
 * Predicts every row of a CSV body as it arrives (features by header name, the target column
 * ignored), {@link BATCH_ROWS} rows at a time, and streams the answer: CSV lines, or the JSON of
 * `POST /predict` (probabilities streamed, the class list written last). Resolves with the answer
 * stream once its first bytes are ready, so a problem in the header or the first rows is still a
 * 4xx; a problem later ends the stream with an error (the response is cut off, never silently
 * short). Memory: one batch and one chunk, whatever the body size.
 */
export async function bulkPredict(source: AsyncIterable<Buffer>, opts: BulkPredictOptions): Promise<Readable> {
  const { model } = opts;
  const F = model.inputSize;
  const out = new PassThrough();
  let started = false;
  let signalStart!: () => void;
  let failStart!: (err: unknown) => void;
  const start = new Promise<void>((res, rej) => ((signalStart = res), (failStart = rej)));
  const write = async (s: string) => {
    if (!started) {
      started = true;
      signalStart();
    }
    if (!out.write(s)) await once(out, 'drain');
  };

  const batch = new Float64Array(BATCH_ROWS * F);
  let batchRows = 0;
  let written = 0;
  const classes: (number | number[])[] = [];
  const streamsProbabilities = model.task !== 'regression';
  const flush = async () => {
    if (batchRows === 0) return;
    const p = predict(model, batch.subarray(0, batchRows * F));
    batchRows = 0;
    if (opts.media === 'text/csv') {
      await write((written === 0 ? csvHeader(model) + '\n' : '') + csvLines(p));
    } else {
      const rows = (streamsProbabilities ? p.probabilities! : p.predictions).map((v) => JSON.stringify(v)).join(',');
      if (streamsProbabilities) for (const v of p.predictions) classes.push(v);
      await write((written === 0 ? `{"${streamsProbabilities ? 'probabilities' : 'predictions'}":[` : ',') + rows);
    }
    written += p.predictions.length;
    await new Promise((r) => setImmediate(r)); // let the API answer others between batches
  };

  let mapping: { target: number; inputs: number[] } | undefined;
  const run = async () => {
    await readRows(source, {
      format: 'csv',
      maxBytes: opts.maxBytes,
      limits: opts.limits,
      gzip: opts.gzip,
      csv: {
        minColumns: 1,
        minRows: 1,
        targetOf: (header) => (mapping = mapColumns(header, model, opts.columns, opts.targetColumns)).target,
      },
      onRows: async (features, rows, width) => {
        const inputs = mapping!.inputs;
        for (let r = 0; r < rows; r++) {
          const o = r * width;
          const b = batchRows * F;
          for (let j = 0; j < F; j++) batch[b + j] = features[o + inputs[j]];
          if (++batchRows === BATCH_ROWS) await flush();
        }
      },
    });
    await flush();
    if (opts.media === 'application/json') await write(streamsProbabilities ? `],"predictions":${JSON.stringify(classes)}}` : ']}');
  };
  run().then(
    () => {
      signalStart();
      out.end();
    },
    (err) => {
      if (started) out.destroy(err as Error);
      else failStart(err);
    },
  );
  await start;
  return out;
}
