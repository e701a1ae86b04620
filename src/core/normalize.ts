import { copyRow, type TableSource } from './data.js';

/** Per-column mean and standard deviation. */
export interface ColumnStats {
  mean: number[];
  std: number[];
}

/**
 * z-score statistics of the columns of `src` (width `w`) over the rows listed in `rows`
 * (the training split only), in float64. `std` is the population standard deviation; a
 * constant column gets `std = 1`, so normalizing it yields 0 instead of NaN/Infinity.
 */
export function columnStats(src: TableSource, w: number, rows: ArrayLike<number>): ColumnStats {
  const n = rows.length;
  const sum = new Float64Array(w), min = new Float64Array(w).fill(Infinity), max = new Float64Array(w).fill(-Infinity);
  const row = new Float64Array(w);
  for (let i = 0; i < n; i++) {
    copyRow(src, rows[i], w, row, 0);
    for (let j = 0; j < w; j++) {
      const v = row[j];
      sum[j] += v;
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
    }
  }
  const mean = new Float64Array(w);
  for (let j = 0; j < w; j++) mean[j] = n > 0 ? sum[j] / n : 0;
  // Two-pass variance: exact for constant columns and stable for large offsets.
  const sq = new Float64Array(w);
  for (let i = 0; i < n; i++) {
    copyRow(src, rows[i], w, row, 0);
    for (let j = 0; j < w; j++) {
      const d = row[j] - mean[j];
      sq[j] += d * d;
    }
  }
  const std: number[] = [];
  for (let j = 0; j < w; j++) {
    const s = n > 0 ? Math.sqrt(sq[j] / n) : 0;
    std.push(min[j] === max[j] || !(s > 0) ? 1 : s);
  }
  return { mean: Array.from(mean), std };
}

/** Normalizes `row[offset … offset+w)` in place: (x − μ) / σ. */
export function normalizeRow(row: { [i: number]: number }, offset: number, stats: ColumnStats): void {
  const { mean, std } = stats;
  for (let j = 0; j < mean.length; j++) row[offset + j] = (row[offset + j] - mean[j]) / std[j];
}

/** Undoes `normalizeRow`: x = x'·σ + μ. */
export function denormalizeRow(row: { [i: number]: number }, offset: number, stats: ColumnStats): void {
  const { mean, std } = stats;
  for (let j = 0; j < mean.length; j++) row[offset + j] = row[offset + j] * std[j] + mean[j];
}
