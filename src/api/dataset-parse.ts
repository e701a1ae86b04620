import { parse } from 'csv-parse/sync';
import type { DatasetJsonBody } from '../schemas/dataset.js';
import { HttpProblem, invalidField } from './problem.js';

/** A dataset parsed from any upload format, before storage. */
export interface ParsedDataset {
  rows: number;
  featureCount: number;
  targetWidth: number;
  features: Float64Array;
  targets: Float64Array;
  columns?: string[];
  targetColumns?: string[];
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const csvProblem = (message: string) => new HttpProblem(400, 'invalid_csv', message, [{ path: 'body', message, in: 'body' }]);

/**
 * Parses CSV text with a header row (quoted fields, CRLF and a UTF-8 BOM accepted). `target`
 * names the target column; default: the last one. Every other column is a numeric feature.
 */
export function parseCsvDataset(input: Buffer | string, target?: string): ParsedDataset {
  let records: string[][];
  try {
    records = parse(input, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  } catch (e) {
    throw csvProblem(`the CSV does not parse: ${(e as Error).message}`);
  }
  if (records.length === 0) throw csvProblem('the CSV is empty; send a header row and at least one data row');
  const header = records[0];
  if (records.length < 2) throw csvProblem('the CSV has a header row but no data rows');
  if (header.length < 2) throw csvProblem('the CSV needs at least two columns: features and a target');
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw csvProblem(`column name '${dup}' appears twice in the header`);
  const t = target === undefined ? header.length - 1 : header.indexOf(target);
  if (t < 0) throw invalidField('target', `no column '${target}' in the header (columns: ${header.join(', ')})`, 'querystring');
  const rows = records.length - 1;
  const featureCount = header.length - 1;
  const features = new Float64Array(rows * featureCount);
  const targets = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const rec = records[r + 1];
    let f = 0;
    for (let c = 0; c < rec.length; c++) {
      const cell = rec[c];
      // Decimal notation only: Number() would also take '0x10', '0b1' or 'Infinity'.
      const v = DECIMAL.test(cell) ? Number(cell) : NaN;
      if (!Number.isFinite(v))
        throw csvProblem(`line ${r + 2}, column ${c + 1} ('${header[c]}'): '${cell.slice(0, 40)}' is not a finite number`);
      if (c === t) targets[r] = v;
      else features[r * featureCount + f++] = v;
    }
  }
  return {
    rows,
    featureCount,
    targetWidth: 1,
    features,
    targets,
    columns: header.filter((_, i) => i !== t),
    targetColumns: [header[t]],
  };
}

/** Checks a JSON upload's shape (the schema checked the types) and flattens it. */
export function parseJsonDataset(body: DatasetJsonBody): ParsedDataset {
  const rows = body.features.length;
  const featureCount = body.features[0].length;
  if (body.targets.length !== rows)
    throw invalidField('targets', `has ${body.targets.length} entries but features has ${rows} rows; send one target per row`);
  const features = new Float64Array(rows * featureCount);
  body.features.forEach((row, r) => {
    if (row.length !== featureCount)
      throw invalidField(`features.${r}`, `has ${row.length} values but row 0 has ${featureCount}; every row needs the same width`);
    features.set(row, r * featureCount);
  });
  const first = body.targets[0];
  const targetWidth = Array.isArray(first) ? first.length : 1;
  const targets = new Float64Array(rows * targetWidth);
  body.targets.forEach((t, r) => {
    if (Array.isArray(t) !== Array.isArray(first) || (Array.isArray(t) && t.length !== targetWidth))
      throw invalidField(`targets.${r}`, `every target must be ${Array.isArray(first) ? `an array of ${targetWidth} numbers` : 'a number'}, like targets.0`);
    if (Array.isArray(t)) targets.set(t, r * targetWidth);
    else targets[r] = t;
  });
  return { rows, featureCount, targetWidth, features, targets };
}
