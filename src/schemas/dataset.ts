import { z } from 'zod';
import { pagination } from './common.js';
import { DTYPES } from '../core/types.js';

/** JSON body of `POST /v1/datasets`. */
export const DatasetJsonBodySchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    features: z.array(z.array(z.number().finite()).min(1)).min(1),
    targets: z.union([z.array(z.number().finite()).min(1), z.array(z.array(z.number().finite()).min(1)).min(1)]),
  })
  .meta({ id: 'DatasetUpload' });
export type DatasetJsonBody = z.infer<typeof DatasetJsonBodySchema>;

/** Query of `POST /v1/datasets` for `text/csv` uploads. */
export const DatasetUploadQuerySchema = z.strictObject({
  name: z.string().min(1).max(200).optional().describe('Dataset name (default: dataset)'),
  target: z.string().min(1).max(200).optional().describe('Target column (header name); default: the last column'),
});

export const DatasetSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    rows: z.number().int(),
    features: z.number().int().describe('Feature columns per row'),
    targets: z.number().int().describe('Target values per row'),
    targetKind: z.enum(['integer', 'real']),
    classes: z.number().int().optional().describe('max + 1 when every target is an integer (one target column)'),
    bytes: z.number().int().describe('Bytes of the stored binary features and targets'),
    dtype: z.enum(DTYPES).describe('Element type the values are stored in (float32 when lossless)'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe('SHA-256 (hex) of the stored binary (features then targets, little-endian `dtype`), computed while storing; absent only for datasets stored before blob storage'),
    columns: z.array(z.string()).optional().describe('Feature column names (CSV uploads)'),
    targetColumns: z.array(z.string()).optional(),
    createdAt: z.string(),
  })
  .meta({ id: 'Dataset' });
export type Dataset = z.infer<typeof DatasetSchema>;

export const DatasetListQuerySchema = z.strictObject({ ...pagination('ds') });
export const DatasetListSchema = z
  .object({ items: z.array(DatasetSchema), next: z.string().nullable() })
  .meta({ id: 'DatasetList' });
