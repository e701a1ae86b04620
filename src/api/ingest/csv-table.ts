import { HttpProblem, invalidField } from '../problem.js';
import { firstBadUtf8Byte, decodeUtf8, invalidEncoding } from './utf8.js';
import { ValueMatrix } from './value-matrix.js';

/** Size limits of one table (`MAX_DATASET_ROWS`, `MAX_DATASET_COLUMNS`). */
export interface TableLimits {
  /** Most data rows. Default: unlimited. */
  maxRows?: number;
  /** Most columns, features and targets together. Default: unlimited. */
  maxColumns?: number;
}

/**
 * A parsed table: column names, the column `target` (the one named before the data, else the
 * last) in `targets`, every other column row-major in `features`.
 */
export interface ParsedTable {
  columns: string[];
  rows: number;
  target: number;
  features: ValueMatrix;
  targets: ValueMatrix;
}

/** Frees a table's values (an upload refused after parsing). */
export function discardTable(t: ParsedTable): void {
  t.features.discard();
  t.targets.discard();
}

/** Two value arrays that turn float64 together: features and targets. */
export function columnGroups(): { features: ValueMatrix; targets: ValueMatrix } {
  const features = new ValueMatrix();
  const targets = new ValueMatrix();
  ValueMatrix.link(features, targets);
  return { features, targets };
}

/** The incremental parser interface both formats share: bytes in, a table out. */
export interface TableParser {
  write(chunk: Buffer): void;
  end(): ParsedTable;
  /** Frees what was parsed so far (the upload failed). */
  discard(): void;
  /** The column names once the header (or first record) was read. */
  readonly columns: string[] | null;
  /** Data rows read so far. */
  readonly rowCount: number;
  /** The target column (-1: none) once the header was read. */
  readonly targetIndex: number;
  /** The values read so far (complete rows, then the row being read), once the header was read. */
  readonly values: { features: ValueMatrix; targets: ValueMatrix } | null;
}

const LF = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;
/** Longest cell: a number is never this long, and a carried partial cell stays small. */
export const MAX_CELL_BYTES = 1024;
/** Longest header line. */
const MAX_HEADER_BYTES = 8 * 1024 * 1024;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV problem at `line` (1-based) and optionally `column` (1-based): path `csv:line[:column]`. */
export const csvProblem = (message: string, line?: number, column?: number) =>
  new HttpProblem(400, 'invalid_csv', message, [
    { path: line === undefined ? 'body' : `csv:${line}${column === undefined ? '' : `:${column}`}`, message, in: 'body' },
  ]);

export const tooManyRows = (maxRows: number) =>
  new HttpProblem(413, 'too_many_rows', `the dataset has more than ${maxRows} rows (MAX_DATASET_ROWS); send fewer rows or split it`, [
    { path: 'body', message: `at most ${maxRows} rows`, in: 'body' },
  ]);

/** Options of {@link CsvTableParser} beyond the dataset defaults. */
export interface CsvTableOptions {
  /** Picks the target column from the header (its index, or -1 for none; may throw a problem). Default: `target`, else the last column. */
  targetOf?: (columns: string[]) => number;
  /** Fewest columns. Default 2 (features and a target). */
  minColumns?: number;
  /** Fewest data rows. Default 2. */
  minRows?: number;
}

const isBlankByte = (c: number) => c === SPACE || c === TAB;

/**
 * Parses a decimal number from `b[s, e)` (surrounding spaces/tabs and one pair of quotes
 * allowed): decimal notation only, as `^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`. NaN when it is
 * not one. Up to 15 significant digits and a power of ten within ±22 are computed exactly (one
 * correctly rounded multiply or divide, Clinger's fast path); anything else goes to `Number`.
 */
export function parseDecimal(b: Uint8Array, s: number, e: number): number {
  while (s < e && isBlankByte(b[s])) s++;
  while (e > s && isBlankByte(b[e - 1])) e--;
  if (s < e && b[s] === QUOTE) {
    if (e - s < 2 || b[e - 1] !== QUOTE) return NaN;
    s++;
    e--;
  }
  if (s === e) return NaN;
  const start = s;
  let i = s;
  let neg = false;
  if (b[i] === 45) {
    neg = true;
    i++;
  } else if (b[i] === 43) i++;
  let mant = 0;
  let digits = 0;
  let exp10 = 0;
  let any = false;
  let slow = false;
  for (; i < e; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) break;
    any = true;
    if (mant !== 0 || d !== 0) {
      if (digits < 15) {
        mant = mant * 10 + d;
        digits++;
      } else slow = true;
    }
  }
  if (i < e && b[i] === 46) {
    for (i++; i < e; i++) {
      const d = b[i] - 48;
      if (d < 0 || d > 9) break;
      any = true;
      if (mant !== 0 || d !== 0) {
        if (digits < 15) {
          mant = mant * 10 + d;
          digits++;
          exp10--;
        } else slow = true;
      } else exp10--;
    }
  }
  if (!any) return NaN;
  if (i < e && (b[i] === 101 || b[i] === 69)) {
    i++;
    let eneg = false;
    if (i < e && (b[i] === 45 || b[i] === 43)) eneg = b[i++] === 45;
    let ev = 0;
    let ed = false;
    for (; i < e; i++) {
      const d = b[i] - 48;
      if (d < 0 || d > 9) break;
      ed = true;
      if (ev < 100_000) ev = ev * 10 + d;
    }
    if (!ed) return NaN;
    exp10 += eneg ? -ev : ev;
  }
  if (i !== e) return NaN;
  if (slow || exp10 > 22 || exp10 < -22) return Number(Buffer.from(b.buffer, b.byteOffset + start, e - start).toString('latin1'));
  const v = exp10 >= 0 ? mant * POW10[exp10] : mant / POW10[-exp10];
  return neg ? -v : v;
}

/** Splits one decoded header line into its trimmed, unquoted fields. */
function splitHeader(text: string, line: number): string[] {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  const ws = (c: string) => c === ' ' || c === '\t';
  for (;;) {
    while (i < n && ws(text[i])) i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw csvProblem(`line ${line}: a quoted column name opens and is never closed; close it with "`, line, fields.length + 1);
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      while (i < n && ws(text[i])) i++;
      if (i < n && text[i] !== ',')
        throw csvProblem(`line ${line}, column ${fields.length + 1}: only a comma may follow a closing quote`, line, fields.length + 1);
    } else {
      const c = text.indexOf(',', i);
      value = text.slice(i, c < 0 ? n : c).replace(/[ \t]+$/, '');
      i = c < 0 ? n : c;
    }
    fields.push(value);
    if (i >= n) return fields;
    i++; // the comma
  }
}

/**
 * A streaming CSV parser (header row required) that writes every cell straight into a
 * {@link ValueMatrix}: no string or array per row, one pass over the bytes, a partial cell
 * carried between chunks (at most {@link MAX_CELL_BYTES}). Quoted fields, CRLF, a UTF-8 BOM,
 * blank lines and spaces around cells are accepted like csv-parse's `trim`. Problems name the
 * line the record starts on and the column (`csv:line:column`); size limits answer 413.
 */
export class CsvTableParser implements TableParser {
  columns: string[] | null = null;
  private features: ValueMatrix | null = null;
  private targets: ValueMatrix | null = null;
  private width = 0;
  private targetCol = -1;
  /** Absolute offset (in the decoded stream) of the chunk being parsed. */
  private offset = 0;
  private line = 1;
  private started = false;
  private pending: Buffer | null = null;
  // header state
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  private headerQuoted = false;
  private headerCommas = 0;
  private headerNonBlank = false;
  private headerOffset = 0;
  private headerLine = 1;
  // data state
  private col = 0;
  private rows = 0;
  private recordLine = 1;
  private quoted = false;
  private afterCR = false;
  private carry: Buffer | null = null;
  private carryOffset = 0;
  /** The first bad cell of the record being read: thrown at its end unless its field count is wrong (that is said first). */
  private cellError: HttpProblem | null = null;

  constructor(
    private readonly limits: TableLimits = {},
    /** Target column name known before the data (checked as soon as the header is read). */
    private readonly target?: string,
    private readonly opts: CsvTableOptions = {},
  ) {}

  get rowCount(): number {
    return this.rows;
  }

  get targetIndex(): number {
    return this.targetCol;
  }

  get values(): { features: ValueMatrix; targets: ValueMatrix } | null {
    return this.features && { features: this.features, targets: this.targets! };
  }

  write(chunk: Buffer): void {
    if (!this.started) {
      // the BOM check needs 3 bytes
      const all: Buffer = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
      if (all.length < 3) {
        this.pending = all;
        return;
      }
      this.pending = null;
      this.started = true;
      chunk = all;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        chunk = chunk.subarray(3);
        this.offset = 3;
      }
      this.headerOffset = this.offset;
    }
    let i = 0;
    if (!this.columns) {
      i = this.scanHeader(chunk);
      if (i < 0) {
        this.offset += chunk.length;
        return;
      }
    }
    this.scanData(chunk, i);
    this.offset += chunk.length;
  }

  private scanHeader(buf: Buffer): number {
    const n = buf.length;
    const maxColumns = this.limits.maxColumns ?? Infinity;
    let start = 0;
    for (let i = 0; i < n; i++) {
      const c = buf[i];
      if (this.headerQuoted) {
        if (c === QUOTE) this.headerQuoted = false;
        else if (c === LF) this.line++;
        continue;
      }
      if (c === QUOTE) {
        this.headerQuoted = true;
        this.headerNonBlank = true;
      } else if (c === COMMA) {
        this.headerNonBlank = true;
        if (++this.headerCommas + 1 > maxColumns)
          throw new HttpProblem(413, 'too_many_columns', `the header has more than ${maxColumns} columns (MAX_DATASET_COLUMNS); send fewer columns`, [
            { path: `csv:${this.headerLine}`, message: `at most ${maxColumns} columns`, in: 'body' },
          ]);
      } else if (c === LF || c === CR) {
        if (!this.headerNonBlank) {
          // a blank line before the header
          if (c === LF) this.line++;
          this.headerParts = [];
          this.headerBytes = 0;
          start = i + 1;
          this.headerOffset = this.offset + i + 1;
          this.headerLine = this.line;
          continue;
        }
        this.headerParts.push(buf.subarray(start, i));
        this.finishHeader();
        if (c === LF) this.line++;
        else this.afterCR = true;
        this.recordLine = this.line;
        return i + 1;
      } else if (!isBlankByte(c)) this.headerNonBlank = true;
    }
    this.headerParts.push(Buffer.from(buf.subarray(start, n)));
    this.headerBytes += n - start;
    if (this.headerBytes > MAX_HEADER_BYTES)
      throw csvProblem(`the header line is longer than ${MAX_HEADER_BYTES / 1024 / 1024} MiB; is the file CSV with one header line?`, this.headerLine);
    return -1;
  }

  private finishHeader(): void {
    const line = this.headerLine;
    const header = splitHeader(decodeUtf8(Buffer.concat(this.headerParts), this.headerOffset), line);
    this.headerParts = [];
    if (header.every((h) => DECIMAL.test(h)))
      throw csvProblem(`the first line (${header.slice(0, 3).join(',')}${header.length > 3 ? ',…' : ''}) is all numbers: a header row naming the columns is required`, line);
    if (header.length < (this.opts.minColumns ?? 2)) throw csvProblem('the CSV needs at least two columns: features and a target', line);
    const unnamed = header.findIndex((h) => h === '');
    if (unnamed >= 0) throw csvProblem(`column ${unnamed + 1} has no name in the header; name every column`, line, unnamed + 1);
    const seen = new Map<string, number>();
    header.forEach((h, i) => {
      if (seen.has(h)) throw csvProblem(`column name '${h.slice(0, 60)}' appears twice in the header (columns ${seen.get(h)! + 1} and ${i + 1}); rename one`, line, i + 1);
      seen.set(h, i);
    });
    this.targetCol = this.opts.targetOf ? this.opts.targetOf(header) : this.target !== undefined ? targetIndex(header, this.target) : header.length - 1;
    this.columns = header;
    this.width = header.length;
    ({ features: this.features, targets: this.targets } = columnGroups());
  }

  private scanData(buf: Buffer, i: number): void {
    const n = buf.length;
    while (i < n) {
      if (this.afterCR) {
        this.afterCR = false;
        if (buf[i] === LF) {
          this.line++;
          this.recordLine = this.line;
          i++;
          continue;
        }
      }
      // fast path: a plain decimal (up to 15 digits, no exponent) ended by a comma or LF in this chunk
      if (this.carry === null && !this.quoted && this.col < this.width) {
        let j = i;
        let c = buf[j];
        const neg = c === 45;
        if (neg) c = buf[++j];
        let mant = 0;
        let digits = 0;
        let d = c - 48;
        while (d >= 0 && d <= 9 && j < n) {
          mant = mant * 10 + d;
          digits++;
          d = (c = buf[++j]) - 48;
        }
        let scale = 0;
        if (c === 46 && digits > 0 && j < n) {
          d = (c = buf[++j]) - 48;
          while (d >= 0 && d <= 9 && j < n) {
            mant = mant * 10 + d;
            scale++;
            d = (c = buf[++j]) - 48;
          }
        }
        if (j < n && (c === COMMA || c === LF) && digits > 0 && digits + scale <= 15) {
          const v = scale === 0 ? mant : mant / POW10[scale];
          (this.col === this.targetCol ? this.targets! : this.features!).push(neg ? -v : v);
          this.col++;
          if (c === LF) this.endRecord(LF);
          i = j + 1;
          continue;
        }
      }
      // find the end of this cell (a comma or line break outside quotes)
      const s = i;
      let q = this.quoted;
      for (; i < n; i++) {
        const c = buf[i];
        if (q) {
          if (c === QUOTE) q = false;
          else if (c === LF) this.line++;
        } else if (c === COMMA || c === LF || c === CR) break;
        else if (c === QUOTE) q = true;
      }
      this.quoted = q;
      if (i === n) {
        this.carryCell(buf, s, n);
        return;
      }
      if (this.carry) {
        const cell = Buffer.concat([this.carry, buf.subarray(0, i)]);
        this.carry = null;
        this.endCell(cell, 0, cell.length, this.carryOffset, buf[i]);
      } else this.endCell(buf, s, i, this.offset + s, buf[i]);
      i++;
    }
  }

  private carryCell(buf: Buffer, s: number, e: number): void {
    if (!this.carry) this.carryOffset = this.offset + s;
    if ((this.carry?.length ?? 0) + e - s > MAX_CELL_BYTES) throw this.longCell();
    this.carry = this.carry ? Buffer.concat([this.carry, buf.subarray(s, e)]) : Buffer.from(buf.subarray(s, e));
  }

  private longCell(): HttpProblem {
    const where = `line ${this.recordLine}, column ${this.col + 1}`;
    return this.quoted
      ? csvProblem(`${where}: a quoted field runs on for more than ${MAX_CELL_BYTES} bytes; is its closing " missing?`, this.recordLine, this.col + 1)
      : csvProblem(`${where}: a cell of more than ${MAX_CELL_BYTES} bytes is not a number`, this.recordLine, this.col + 1);
  }

  /** One complete cell `b[s, e)` at absolute offset `at`, ended by `delim` (a comma, CR, LF, or -1 at the end). */
  private endCell(b: Buffer, s: number, e: number, at: number, delim: number): void {
    if (this.col === 0 && delim !== COMMA) {
      let k = s;
      while (k < e && isBlankByte(b[k])) k++;
      if (k === e) {
        // a blank line
        if (delim === LF) this.line++;
        else if (delim === CR) this.afterCR = true;
        this.recordLine = this.line;
        return;
      }
    }
    if (this.col >= this.width)
      throw csvProblem(`line ${this.recordLine} has more fields than the header's ${this.width}; every row needs one value per column`, this.recordLine);
    if (e - s > MAX_CELL_BYTES) throw this.longCell();
    const v = parseDecimal(b, s, e);
    const into = this.col === this.targetCol ? this.targets! : this.features!;
    if (!(v - v === 0)) {
      // NaN or ±Infinity
      this.cellError ??= this.badCell(b, s, e, at);
      into.push(0);
    } else into.push(v);
    this.col++;
    if (delim !== COMMA) this.endRecord(delim);
  }

  /** The end of a record (CR, LF or -1 at the end of the body) after its last cell. */
  private endRecord(delim: number): void {
    if (this.col !== this.width)
      throw csvProblem(`line ${this.recordLine} has ${this.col} fields but the header has ${this.width}; every row needs one value per column`, this.recordLine);
    if (this.cellError) throw this.cellError;
    this.col = 0;
    if (++this.rows > (this.limits.maxRows ?? Infinity)) throw tooManyRows(this.limits.maxRows!);
    if (delim === LF) this.line++;
    else if (delim === CR) this.afterCR = true;
    this.recordLine = this.line;
  }

  private badCell(b: Buffer, s: number, e: number, at: number): HttpProblem {
    for (let k = s; k < e; k++)
      if (b[k] >= 0x80) {
        const bad = firstBadUtf8Byte(b, s, e);
        if (bad >= 0) return invalidEncoding(at + bad - s);
        break;
      }
    let cell = b.toString('utf8', s, e).trim();
    if (cell.length >= 2 && cell.startsWith('"') && cell.endsWith('"')) cell = cell.slice(1, -1).replaceAll('""', '"');
    const what = cell === '' ? 'is empty' : `'${cell.slice(0, 40)}' is not a finite decimal number`;
    const c = this.col;
    return csvProblem(
      `line ${this.recordLine}, column ${c + 1} ('${this.columns![c].slice(0, 60)}'): ${what}; every cell must be a number like 1, -0.5 or 2e-3`,
      this.recordLine,
      c + 1,
    );
  }

  end(): ParsedTable {
    if (!this.started && this.pending) {
      const p = this.pending;
      this.pending = null;
      this.started = true;
      this.write(p);
    }
    if (!this.columns) {
      if (this.headerQuoted) throw csvProblem(`line ${this.headerLine}: a quoted field opens and is never closed; close it with "`, this.headerLine);
      if (!this.headerNonBlank) throw csvProblem('the CSV is empty; send a header row and at least two data rows');
      this.finishHeader();
    } else {
      if (this.quoted) throw csvProblem(`line ${this.recordLine}: a quoted field opens and is never closed; close it with "`, this.recordLine);
      if (this.carry) {
        const cell = this.carry;
        this.carry = null;
        this.endCell(cell, 0, cell.length, this.carryOffset, -1);
      } else if (this.col > 0) this.endCell(Buffer.alloc(0), 0, 0, this.offset, -1);
    }
    const rows = this.rows;
    if (rows < (this.opts.minRows ?? 2)) throw csvProblem(`the CSV has ${rows === 0 ? 'a header row but no data rows' : 'one data row'}; send at least ${this.opts.minRows ?? 2} rows`);
    return { columns: this.columns!, rows, target: this.targetCol, features: this.features!, targets: this.targets! };
  }

  discard(): void {
    this.features?.discard();
    this.targets?.discard();
    this.features = this.targets = null;
    this.carry = null;
    this.headerParts = [];
  }
}

/** The index of column `target` in `columns`, or a 400 naming `?target=`. */
export function targetIndex(columns: string[], target: string): number {
  const t = columns.indexOf(target);
  if (t < 0)
    throw invalidField(
      'target',
      `no column '${target}' in the header (columns: ${columns.slice(0, 20).join(', ')}${columns.length > 20 ? ', …' : ''}); pass one of them as ?target=`,
      'query',
    );
  return t;
}
