import { InvalidSpecError } from './errors.js';
import type { Buf, DataSet } from './types.js';

/** A row-major table given either as rows of numbers or as one flat buffer. */
export type TableSource = Buf | ArrayLike<number> | number[][];

/** A validated dataset: shapes known, every value finite. No copy of the data is made. */
export interface Table {
  rows: number;
  featureCount: number;
  targetWidth: number;
  features: TableSource;
  targets: TableSource;
}

/** Copies row `r` (width `w`) of a table source into `out` at `offset`. */
export function copyRow(src: TableSource, r: number, w: number, out: Buf | Float64Array, offset: number): void {
  const row = (src as number[][])[r];
  if (Array.isArray(row)) {
    for (let j = 0; j < w; j++) out[offset + j] = row[j];
  } else {
    const flat = src as ArrayLike<number>;
    const o = r * w;
    for (let j = 0; j < w; j++) out[offset + j] = flat[o + j];
  }
}

/** Value (r, j) of a table source of width `w`. */
export function valueAt(src: TableSource, r: number, j: number, w: number): number {
  const row = (src as number[][])[r];
  return Array.isArray(row) ? row[j] : (src as ArrayLike<number>)[r * w + j];
}

function isFlat(x: unknown): x is ArrayLike<number> {
  return ArrayBuffer.isView(x) || (Array.isArray(x) && (x.length === 0 || typeof x[0] === 'number'));
}

function checkFinite(path: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidSpecError(path, `${path} must be a finite number, got ${String(v)}`);
}

/**
 * Checks a dataset's shapes and values (every value a finite number) without copying it.
 * Features: `number[][]` (rows × featureCount) or a flat buffer with `rows` and `featureCount`.
 * Targets: `number[]` (one per row), `number[][]`, or a flat buffer (`targetWidth`, default 1).
 * Errors name the offending element, e.g. `data.features[3][1]`.
 */
export function readDataSet(data: DataSet): Table {
  if (data === null || typeof data !== 'object') throw new InvalidSpecError('data', 'data must be an object with features and targets');
  const { features, targets } = data;
  let rows: number, featureCount: number;
  if (Array.isArray(features) && features.length > 0 && Array.isArray(features[0])) {
    const f = features as number[][];
    rows = f.length;
    featureCount = f[0].length;
    if (data.rows !== undefined && data.rows !== rows) throw new InvalidSpecError('data.rows', `data.rows is ${data.rows} but features has ${rows} rows`);
    for (let r = 0; r < rows; r++) {
      const row = f[r];
      if (!Array.isArray(row) || row.length !== featureCount) {
        throw new InvalidSpecError(`data.features[${r}]`, `data.features[${r}] must be an array of ${featureCount} numbers like row 0`);
      }
      for (let j = 0; j < featureCount; j++) if (!Number.isFinite(row[j])) checkFinite(`data.features[${r}][${j}]`, row[j]);
    }
  } else if (isFlat(features)) {
    if (!Number.isInteger(data.rows) || !Number.isInteger(data.featureCount) || (data.rows as number) < 0 || (data.featureCount as number) < 1) {
      throw new InvalidSpecError('data.rows', 'a flat features buffer needs integer data.rows and data.featureCount ≥ 1');
    }
    rows = data.rows as number;
    featureCount = data.featureCount as number;
    if (features.length !== rows * featureCount) {
      throw new InvalidSpecError('data.features', `data.features has ${features.length} values, expected rows × featureCount = ${rows * featureCount}`);
    }
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i])) checkFinite(`data.features[${i}]`, features[i]);
    }
  } else {
    throw new InvalidSpecError('data.features', 'data.features must be number[][] or a flat numeric buffer');
  }
  const names = data.featureNames;
  if (names !== undefined && (!Array.isArray(names) || names.length !== featureCount || names.some((n) => typeof n !== 'string')))
    throw new InvalidSpecError('data.featureNames', `data.featureNames must be ${featureCount} strings, one per feature column`);
  if (rows < 1) throw new InvalidSpecError('data.features', 'the dataset has no rows');
  if (featureCount < 1) throw new InvalidSpecError('data.features[0]', 'rows need at least one feature');

  let targetWidth: number;
  if (Array.isArray(targets) && targets.length > 0 && Array.isArray(targets[0])) {
    const t = targets as number[][];
    targetWidth = t[0].length;
    if (t.length !== rows) throw new InvalidSpecError('data.targets', `data.targets has ${t.length} rows but features has ${rows}`);
    for (let r = 0; r < rows; r++) {
      const row = t[r];
      if (!Array.isArray(row) || row.length !== targetWidth) {
        throw new InvalidSpecError(`data.targets[${r}]`, `data.targets[${r}] must be an array of ${targetWidth} numbers like row 0`);
      }
      for (let j = 0; j < targetWidth; j++) if (!Number.isFinite(row[j])) checkFinite(`data.targets[${r}][${j}]`, row[j]);
    }
  } else if (isFlat(targets)) {
    targetWidth = data.targetWidth ?? 1;
    if (!Number.isInteger(targetWidth) || targetWidth < 1) throw new InvalidSpecError('data.targetWidth', 'data.targetWidth must be an integer ≥ 1');
    if (targets.length !== rows * targetWidth) {
      throw new InvalidSpecError('data.targets', `data.targets has ${targets.length} values, expected rows × targetWidth = ${rows * targetWidth}`);
    }
    for (let i = 0; i < targets.length; i++) {
      if (!Number.isFinite(targets[i])) checkFinite(`data.targets[${i}]`, targets[i]);
    }
  } else {
    throw new InvalidSpecError('data.targets', 'data.targets must be number[], number[][] or a flat numeric buffer');
  }
  if (targetWidth < 1) throw new InvalidSpecError('data.targets[0]', 'targets need at least one value per row');
  return { rows, featureCount, targetWidth, features: features as TableSource, targets: targets as TableSource };
}
