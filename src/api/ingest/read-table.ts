import type { Hash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HttpProblem } from '../problem.js';
import { CsvTableParser, targetIndex, type CsvTableOptions, type ParsedTable, type TableLimits, type TableParser } from './csv-table.js';
import { JsonlTableParser } from './jsonl-table.js';

export type TableFormat = 'csv' | 'jsonl';

/** Media types read as a stream of table rows. */
export const CSV_TYPES = ['text/csv', 'application/csv'];
export const JSONL_TYPES = ['application/jsonl', 'application/x-ndjson', 'application/ndjson', 'application/x-jsonlines', 'application/jsonlines'];

/** The table format of a media type (parameters ignored), or null. */
export function tableFormatOf(contentType: string | undefined): TableFormat | null {
  const type = contentType?.split(';')[0].trim().toLowerCase() ?? '';
  return CSV_TYPES.includes(type) ? 'csv' : JSONL_TYPES.includes(type) ? 'jsonl' : null;
}

/** Options of {@link readTable}. */
export interface ReadTableOptions {
  format: TableFormat;
  /** Most bytes read from `source` (compressed), and most bytes after decompression. */
  maxBytes: number;
  limits: TableLimits;
  /** The target column, when known before the data: checked as soon as the header is read. */
  target?: string;
  /** `Content-Encoding: gzip` was sent. Gzip is also recognized by its magic bytes (a `.csv.gz` file). */
  gzip?: boolean;
  /** Receives every byte as read (before decompression), e.g. for an Idempotency-Key hash. */
  hash?: Hash;
  /** Called with the bytes read so far, at most every 64 KiB. */
  onProgress?: (bytes: number) => void;
  /** The error for more than `maxBytes` read. Default: 413 `fst_err_ctp_body_too_large`. */
  tooLarge?: () => Error;
}

/** Options of {@link readRows}: {@link readTable}'s, a consumer of complete rows, and CSV parser options. */
export interface ReadRowsOptions extends ReadTableOptions {
  csv?: CsvTableOptions;
  /**
   * Called after each chunk with the complete rows read since the last call (row-major, `width`
   * values each: every column but the target), which are then dropped: memory stays one chunk.
   */
  onRows?: (features: Float32Array | Float64Array, rows: number, width: number) => Promise<void> | void;
}

export const bodyTooLarge = (maxBytes: number) => () =>
  new HttpProblem(413, 'fst_err_ctp_body_too_large', `the body is over ${maxBytes} bytes (MAX_DATASET_BYTES); send a smaller file or gzip it`, [
    { path: 'body', message: `at most ${maxBytes} bytes`, in: 'body' },
  ]);

/** A parser of `format`. */
export function tableParser(format: TableFormat, limits: TableLimits, target?: string, csv?: CsvTableOptions): TableParser {
  return format === 'csv' ? new CsvTableParser(limits, target, csv) : new JsonlTableParser(limits, target);
}

/**
 * Reads a CSV or JSON Lines body from `source` chunk by chunk (gunzipping when it is gzip) into
 * a {@link ParsedTable}. Memory: the table's values plus a chunk; nothing else grows with the
 * body. Any failure (a bad cell, a limit, a cut connection, bad gzip) frees what was parsed and
 * throws an {@link HttpProblem}.
 */
export function readTable(source: AsyncIterable<Buffer>, opts: ReadTableOptions): Promise<ParsedTable> {
  return readRows(source, opts);
}

/** {@link readTable}, handing complete rows to `opts.onRows` as they arrive when it is given. */
export async function readRows(source: AsyncIterable<Buffer>, opts: ReadRowsOptions): Promise<ParsedTable> {
  const parser = tableParser(opts.format, opts.limits, opts.target, opts.csv);
  let taken = 0;
  const drain = async () => {
    const v = parser.values;
    const rows = parser.rowCount - taken;
    if (!opts.onRows || !v || rows === 0) return;
    const width = parser.columns!.length - (parser.targetIndex >= 0 ? 1 : 0);
    await opts.onRows(v.features.view(), rows, width);
    v.features.dropFront(rows * width);
    if (parser.targetIndex >= 0) v.targets.dropFront(rows);
    taken += rows;
  };
  const tooLarge = opts.tooLarge ?? bodyTooLarge(opts.maxBytes);
  let read = 0;
  let reported = 0;
  async function* counted() {
    for await (const chunk of source) {
      read += chunk.length;
      if (read > opts.maxBytes) throw tooLarge();
      opts.hash?.update(chunk);
      if (opts.onProgress && read - reported >= 65_536) opts.onProgress((reported = read));
      yield chunk;
    }
  }
  const it = counted()[Symbol.asyncIterator]();
  try {
    const first = await it.next();
    const gzip = opts.gzip || (!first.done && first.value[0] === 0x1f && first.value[1] === 0x8b);
    async function* all() {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    let decoded = 0;
    const stream: AsyncIterable<Buffer> = gzip ? pipeline(Readable.from(all()), createGunzip({ chunkSize: 256 * 1024 }), () => {}) : all();
    for await (const chunk of stream) {
      decoded += chunk.length;
      if (decoded > opts.maxBytes)
        throw new HttpProblem(413, 'fst_err_ctp_body_too_large', `the body is over ${opts.maxBytes} bytes (MAX_DATASET_BYTES) once decompressed; send a smaller file`, [
          { path: 'body', message: `at most ${opts.maxBytes} bytes decompressed`, in: 'body' },
        ]);
      parser.write(chunk);
      await drain();
    }
    opts.onProgress?.(read);
    const table = parser.end();
    await drain();
    return table;
  } catch (err) {
    parser.discard();
    throw asProblem(err);
  }
}

/**
 * The dataset values of a table with `target` (default: the last column) as the target: the
 * parser's own split when it is the column it was told (or the last), else one pass that moves
 * the column in place.
 */
export function splitTarget(table: ParsedTable, target?: string) {
  const { columns, rows } = table;
  const t = target === undefined ? columns.length - 1 : targetIndex(columns, target);
  if (t !== table.target) moveTarget(table.features.view(), table.targets.view(), rows, columns.length, table.target, t);
  return {
    rows,
    featureCount: columns.length - 1,
    targetWidth: 1,
    features: table.features.finish(),
    targets: table.targets.finish(),
    columns: columns.filter((_, i) => i !== t),
    targetColumns: [columns[t]],
  };
}

/**
 * Rows of `width - 1` features without column `from` (which is in T) become rows without column
 * `to` (which goes to T), in place: per row, the values between the two shift by one.
 */
export function moveTarget(F: Float32Array | Float64Array, T: Float32Array | Float64Array, rows: number, width: number, from: number, to: number): void {
  const w = width - 1;
  for (let r = 0; r < rows; r++) {
    const base = r * w;
    const old = T[r];
    if (to < from) {
      // features hold columns 0..from-1 at their own index: `to` is at base + to
      T[r] = F[base + to];
      for (let k = base + to; k < base + from - 1; k++) F[k] = F[k + 1];
      F[base + from - 1] = old;
    } else {
      // columns after `from` sit one to the left: `to` is at base + to - 1
      T[r] = F[base + to - 1];
      for (let k = base + to - 1; k > base + from; k--) F[k] = F[k - 1];
      F[base + from] = old;
    }
  }
}

/** Stream and zlib errors as the client's problem. */
function asProblem(err: unknown): unknown {
  if (err instanceof HttpProblem) return err;
  const e = err as NodeJS.ErrnoException & { statusCode?: number };
  if (e.statusCode && e.statusCode < 500) return err;
  if (typeof e.code === 'string' && e.code.startsWith('Z_'))
    return new HttpProblem(400, 'invalid_gzip', `the body is not valid gzip: ${e.message}`, [{ path: 'body', message: 'not valid gzip', in: 'body' }]);
  if (e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.message === 'aborted')
    return new HttpProblem(400, 'upload_aborted', 'the upload ended before its last byte (connection closed); nothing was stored', [
      { path: 'body', message: 'incomplete', in: 'body' },
    ]);
  return err;
}
