/*
 * The CSV upload path before streaming ingest (commit ba5c5be's src/api/dataset-parse.ts, CSV part,
 * unchanged): kept here only so bench:ingest can measure it beside the new parser in one run.
 */
import { parse } from 'csv-parse/sync';
import { HttpProblem, invalidField } from '../src/api/problem.js';

type DatasetLimits = { maxRows?: number; maxColumns?: number };
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV problem at `line` (1-based, the header is line 1) and optionally `column` (1-based): path `csv:line[:column]`. */
const csvProblem = (message: string, line?: number, column?: number) =>
  new HttpProblem(400, 'invalid_csv', message, [
    { path: line === undefined ? 'body' : `csv:${line}${column === undefined ? '' : `:${column}`}`, message, in: 'body' },
  ]);

const tooLarge = (code: string, message: string, path: string) => new HttpProblem(413, code, message, [{ path, message, in: 'body' }]);

/** Decodes UTF-8 strictly: a body with invalid bytes is refused rather than silently mangled. */
function decodeUtf8(input: Buffer | string): string {
  if (typeof input === 'string') return input;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(input);
  } catch {
    let at = 0;
    // name the first bad byte: decode growing prefixes would be quadratic, so find it by bisection
    let lo = 0;
    let hi = input.length;
    const ok = (n: number) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(input.subarray(0, n), { stream: true });
        return true;
      } catch {
        return false;
      }
    };
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ok(mid)) lo = mid;
      else hi = mid - 1;
    }
    // lo may end inside a multi-byte character: the bad sequence starts where the last complete one ends
    at = lo;
    for (let k = lo; k >= Math.max(0, lo - 3); k--) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(input.subarray(0, k));
        at = k;
        break;
      } catch {
        /* still inside the sequence */
      }
    }
    throw new HttpProblem(400, 'invalid_encoding', `the body is not valid UTF-8 (first bad byte at offset ${at}); save the CSV as UTF-8`, [
      { path: 'body', message: 'not valid UTF-8', in: 'body' },
    ]);
  }
}

/**
 * One linear pass over the text that counts fields per record and records, without allocating
 * them: a 5 MB line of commas or a million rows is refused here (413/400) before the parser
 * builds arrays. csv-parse stays the authority on quoting; this only bounds the work.
 */
export function scanCsvShape(text: string, limits: DatasetLimits = {}): { columns: number; records: number } {
  const maxColumns = limits.maxColumns ?? Infinity;
  const maxRows = limits.maxRows ?? Infinity;
  let columns = -1;
  let records = 0;
  let fields = 1;
  let quoted = false;
  let empty = true; // nothing but this record's first field seen yet (empty lines are skipped)
  let line = 1;
  let recordLine = 1;
  const endRecord = () => {
    if (empty && fields === 1) return;
    if (columns < 0) columns = fields;
    else if (fields !== columns)
      throw csvProblem(`line ${recordLine} has ${fields} fields but the header has ${columns}; every row needs one value per column`, recordLine);
    records++;
    if (records - 1 > maxRows)
      throw tooLarge('too_many_rows', `the dataset has more than ${maxRows} rows (MAX_DATASET_ROWS); send fewer rows or split it`, 'body');
  };
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) line++;
    if (quoted) {
      if (c === 0x22) quoted = false; // `""` re-opens at once: the state comes out right
      continue;
    }
    if (c === 0x22) {
      quoted = true;
      empty = false;
    } else if (c === 0x2c) {
      fields++;
      empty = false;
      if (fields > maxColumns) {
        if (columns < 0)
          throw tooLarge('too_many_columns', `the header has more than ${maxColumns} columns (MAX_DATASET_COLUMNS); send fewer columns`, 'csv:1');
        throw csvProblem(`line ${recordLine} has more fields than the header's ${columns}; every row needs one value per column`, recordLine);
      }
    } else if (c === 0x0a || c === 0x0d) {
      if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) continue; // CRLF: the LF ends the record
      endRecord();
      fields = 1;
      empty = true;
      recordLine = line; // this LF was already counted
    } else if (c !== 0x20 && c !== 0x09) empty = false;
  }
  if (quoted) throw csvProblem(`line ${recordLine}: a quoted field opens and is never closed; close it with "`, recordLine);
  endRecord();
  return { columns: Math.max(columns, 0), records };
}

/** The physical line a record starts on (blank lines and quoted line breaks counted); only on the error path. */
function recordLineOf(text: string, recordIndex: number): number {
  const withInfo = parse(text, { bom: true, skip_empty_lines: true, trim: true, info: true, to: recordIndex + 1 }) as unknown as { info: { lines: number } }[];
  // csv-parse reports the line a record ends on; a record without quoted line breaks starts there too
  return withInfo[recordIndex]?.info.lines ?? recordIndex + 1;
}

/**
 * Parses CSV text with a header row (quoted fields, CRLF and a UTF-8 BOM accepted). `target`
 * names the target column; default: the last one. Every other column is a numeric feature.
 * Problems name the line and column (`csv:line:column`); size limits answer 413.
 */
export function parseCsvDataset(input: Buffer | string, target?: string, limits: DatasetLimits = {}) {
  const text = decodeUtf8(input);
  const shape = scanCsvShape(text, limits);
  if (shape.records === 0) throw csvProblem('the CSV is empty; send a header row and at least two data rows');
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw csvProblem(`the CSV does not parse: ${err.message}`, err.lines);
  }
  if (records.length === 0) throw csvProblem('the CSV is empty; send a header row and at least two data rows');
  const header = records[0];
  if (header.every((h) => DECIMAL.test(h)))
    throw csvProblem(`the first line (${header.slice(0, 3).join(',')}${header.length > 3 ? ',…' : ''}) is all numbers: a header row naming the columns is required`, 1);
  if (header.length < 2) throw csvProblem('the CSV needs at least two columns: features and a target', 1);
  const unnamed = header.findIndex((h) => h === '');
  if (unnamed >= 0) throw csvProblem(`column ${unnamed + 1} has no name in the header; name every column`, 1, unnamed + 1);
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    if (seen.has(h)) throw csvProblem(`column name '${h.slice(0, 60)}' appears twice in the header (columns ${seen.get(h)! + 1} and ${i + 1}); rename one`, 1, i + 1);
    seen.set(h, i);
  });
  const t = target === undefined ? header.length - 1 : (seen.get(target) ?? -1);
  if (t < 0)
    throw invalidField('target', `no column '${target}' in the header (columns: ${header.slice(0, 20).join(', ')}${header.length > 20 ? ', …' : ''}); pass one of them as ?target=`, 'query');
  const rows = records.length - 1;
  if (rows < 2) throw csvProblem(`the CSV has ${rows === 0 ? 'a header row but no data rows' : 'one data row'}; send at least 2 rows`);
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
      if (!Number.isFinite(v)) {
        const what = cell === '' ? 'is empty' : `'${cell.slice(0, 40)}' is not a finite decimal number`;
        const line = recordLineOf(text, r + 1);
        throw csvProblem(`line ${line}, column ${c + 1} ('${header[c].slice(0, 60)}'): ${what}; every cell must be a number like 1, -0.5 or 2e-3`, line, c + 1);
      }
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

