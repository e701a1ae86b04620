import { HttpProblem } from '../problem.js';
import { columnGroups, targetIndex, tooManyRows, type ParsedTable, type TableLimits, type TableParser } from './csv-table.js';
import { decodeUtf8 } from './utf8.js';
import { ValueMatrix } from './value-matrix.js';

/** Longest JSON line. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** A JSON Lines problem at `line` (1-based) and optionally `column` (1-based, the key's place in line 1): path `jsonl:line[:column]`. */
export const jsonlProblem = (message: string, line?: number, column?: number) =>
  new HttpProblem(400, 'invalid_jsonl', message, [
    { path: line === undefined ? 'body' : `jsonl:${line}${column === undefined ? '' : `:${column}`}`, message, in: 'body' },
  ]);

/**
 * JSON Lines: one flat object of named numbers per line (`{"x":1,"y":0.5,"label":2}`, pandas'
 * `to_json(orient="records", lines=True)`); the first line's keys name the columns and every line
 * has the same keys. Each line is parsed with `JSON.parse` and its values copied into the
 * {@link ValueMatrix} at once, so no row outlives its line.
 */
export class JsonlTableParser implements TableParser {
  columns: string[] | null = null;
  private features: ValueMatrix | null = null;
  private targets: ValueMatrix | null = null;
  private targetCol = -1;
  private carry: Buffer | null = null;
  private offset = 0;
  private line = 0;
  private rows = 0;

  constructor(
    private readonly limits: TableLimits = {},
    private readonly target?: string,
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
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.carry = this.carry ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk);
      if (this.carry.length > MAX_LINE_BYTES) throw jsonlProblem(`line ${this.line + 1} is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB`, this.line + 1);
      return;
    }
    const head = this.carry ? Buffer.concat([this.carry, chunk.subarray(0, last + 1)]) : chunk.subarray(0, last + 1);
    this.lines(head);
    this.carry = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : null;
  }

  /** Complete lines (ending in LF). */
  private lines(b: Buffer): void {
    const at = this.offset;
    this.offset += b.length;
    let text = decodeUtf8(b, at, 'JSON Lines');
    if (at === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let s = 0;
    while (s < text.length) {
      let e = text.indexOf('\n', s);
      if (e < 0) e = text.length;
      this.line++;
      this.record(text.slice(s, e));
      s = e + 1;
    }
  }

  private record(raw: string): void {
    const line = this.line;
    const src = raw.trim();
    if (src === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(src);
    } catch (e) {
      throw jsonlProblem(`line ${line} is not JSON: ${(e as Error).message}`, line);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
      throw jsonlProblem(`line ${line} is not an object; send one object of named numbers per line, like {"x":1,"label":0}`, line);
    const o = obj as Record<string, unknown>;
    if (!this.columns) this.start(Object.keys(o), line);
    const columns = this.columns!;
    for (let c = 0; c < columns.length; c++) {
      const v = o[columns[c]];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        const what = v === undefined ? 'is missing' : `is ${JSON.stringify(v)?.slice(0, 40)}, not a finite number`;
        throw jsonlProblem(`line ${line}, key '${columns[c].slice(0, 60)}' ${what}; every line needs a number for each key of line 1`, line, c + 1);
      }
      (c === this.targetCol ? this.targets! : this.features!).push(v);
    }
    let keys = 0;
    for (const k in o) if (Object.hasOwn(o, k)) keys++;
    if (keys !== columns.length) {
      const extra = Object.keys(o).find((k) => !columns.includes(k)) ?? '';
      throw jsonlProblem(`line ${line} has key '${extra.slice(0, 60)}' that line 1 does not; every line needs the same keys`, line);
    }
    if (++this.rows > (this.limits.maxRows ?? Infinity)) throw tooManyRows(this.limits.maxRows!);
  }

  private start(columns: string[], line: number): void {
    const maxColumns = this.limits.maxColumns ?? Infinity;
    if (columns.length > maxColumns)
      throw new HttpProblem(413, 'too_many_columns', `line ${line} has ${columns.length} keys, more than ${maxColumns} columns (MAX_DATASET_COLUMNS)`, [
        { path: `jsonl:${line}`, message: `at most ${maxColumns} columns`, in: 'body' },
      ]);
    if (columns.length < 2) throw jsonlProblem(`line ${line} has ${columns.length} key(s); send at least two: features and a target`, line);
    this.targetCol = this.target !== undefined ? targetIndex(columns, this.target) : columns.length - 1;
    this.columns = columns;
    ({ features: this.features, targets: this.targets } = columnGroups());
  }

  end(): ParsedTable {
    if (this.carry) {
      const tail = this.carry;
      this.carry = null;
      this.lines(tail);
    }
    if (!this.columns) throw jsonlProblem('the JSON Lines body is empty; send one object per line, at least 2 lines');
    if (this.rows < 2) throw jsonlProblem('the JSON Lines body has one line; send at least 2 rows');
    return { columns: this.columns, rows: this.rows, target: this.targetCol, features: this.features!, targets: this.targets! };
  }

  discard(): void {
    this.features?.discard();
    this.targets?.discard();
    this.features = this.targets = null;
    this.carry = null;
  }
}
