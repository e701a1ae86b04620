import type { DatasetJsonBody } from '../schemas/dataset.js';
import type { DatasetValues } from '../storage/dataset-store.js';
import type { TableLimits } from './ingest/csv-table.js';
import { HttpProblem, invalidField } from './problem.js';

/** A dataset parsed from any upload format, before storage. */
export type ParsedDataset = DatasetValues;

/** Size limits of one dataset (`MAX_DATASET_ROWS`, `MAX_DATASET_COLUMNS`). */
export type DatasetLimits = TableLimits;

const tooLarge = (code: string, message: string, path: string) => new HttpProblem(413, code, message, [{ path, message, in: 'body' }]);

/** Checks a JSON upload's shape (the schema checked the types) and flattens it. Paths are dotted: `features.3.1`. */
export function parseJsonDataset(body: DatasetJsonBody, limits: DatasetLimits = {}): ParsedDataset {
  const rows = body.features.length;
  const featureCount = body.features[0].length;
  const maxRows = limits.maxRows ?? Infinity;
  const maxColumns = limits.maxColumns ?? Infinity;
  if (rows > maxRows) throw tooLarge('too_many_rows', `features has ${rows} rows, more than ${maxRows} (MAX_DATASET_ROWS); send fewer rows`, 'features');
  if (rows < 2) throw invalidField('features', 'has 1 row; send at least 2 rows');
  if (body.targets.length !== rows)
    throw invalidField('targets', `has ${body.targets.length} entries but features has ${rows} rows; send one target per row`);
  const first = body.targets[0];
  const targetWidth = Array.isArray(first) ? first.length : 1;
  if (featureCount + targetWidth > maxColumns)
    throw tooLarge('too_many_columns', `${featureCount} features + ${targetWidth} targets per row is more than ${maxColumns} columns (MAX_DATASET_COLUMNS)`, 'features.0');
  const features = new Float64Array(rows * featureCount);
  body.features.forEach((row, r) => {
    if (row.length !== featureCount)
      throw invalidField(`features.${r}`, `has ${row.length} values but row 0 has ${featureCount}; every row needs the same width`);
    features.set(row, r * featureCount);
  });
  const targets = new Float64Array(rows * targetWidth);
  body.targets.forEach((t, r) => {
    if (Array.isArray(t) !== Array.isArray(first) || (Array.isArray(t) && t.length !== targetWidth))
      throw invalidField(`targets.${r}`, `every target must be ${Array.isArray(first) ? `an array of ${targetWidth} numbers` : 'a number'}, like targets.0`);
    if (Array.isArray(t)) targets.set(t, r * targetWidth);
    else targets[r] = t;
  });
  return { rows, featureCount, targetWidth, features, targets };
}
