import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import {
  DatasetJsonBodySchema,
  DatasetListQuerySchema,
  DatasetListSchema,
  DatasetSchema,
  DatasetUploadQuerySchema,
  type DatasetJsonBody,
} from '../../schemas/dataset.js';
import { bodyHash, claimIdempotencyKey } from '../../storage/idempotency.js';
import { newId } from '../../storage/ids.js';
import { IdempotencyKeyHeader } from '../headers.js';
import { parseJsonDataset, type ParsedDataset } from '../dataset-parse.js';
import { discardTable, type ParsedTable } from '../ingest/csv-table.js';
import { bodyTooLarge, readTable, splitTarget, tableFormatOf, type ReadTableOptions, type TableFormat } from '../ingest/read-table.js';
import { awaitIdempotentResource } from '../idempotency-replay.js';
import { HttpProblem, invalidField, notFound } from '../problem.js';

/** The non-JSON request bodies, for the OpenAPI document only (they are parsed by hand). */
export const DATASET_UPLOAD_DOC_CONTENT = {
  'text/csv': {
    schema: {
      type: 'string',
      description: 'CSV with a header row, streamed; `?target=` names the target column (default: last). Gzip with `Content-Encoding: gzip` or as a .csv.gz body (recognized by its bytes)',
    },
  },
  'application/x-ndjson': {
    schema: {
      type: 'string',
      description: 'JSON Lines (also application/jsonl): one object of named numbers per line, the keys of line 1 are the columns; streamed, gzip as for CSV',
    },
  },
  'multipart/form-data': {
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        file: { type: 'string', format: 'binary', description: 'CSV file with a header row (or JSON Lines as .jsonl/.ndjson); .gz files are gunzipped' },
        name: { type: 'string' },
        target: { type: 'string', description: 'Target column; default: the last' },
      },
    },
  },
};

type Part = MultipartFile | { type: 'field'; fieldname: string; value: unknown };

/** The table format of a multipart file: JSON Lines by name or type, else CSV (gzip is recognized by its bytes). */
function fileFormat(part: MultipartFile): TableFormat {
  const name = part.filename.toLowerCase().replace(/\.gz$/, '');
  return name.endsWith('.jsonl') || name.endsWith('.ndjson') || tableFormatOf(part.mimetype) === 'jsonl' ? 'jsonl' : 'csv';
}

/**
 * Reads the parts of a multipart upload, streaming the `file` part into a table (fields may come
 * before or after it; a `target` field sent before the file is checked against the header at once).
 */
async function readMultipart(parts: AsyncIterableIterator<Part>, opts: Omit<ReadTableOptions, 'format' | 'target'> & { target?: string }) {
  const fields: Record<string, string> = {};
  let table: ParsedTable | undefined;
  let fileHash: string | undefined;
  try {
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') throw new HttpProblem(400, 'invalid_multipart', `unexpected file field '${part.fieldname}'; send the CSV as 'file'`);
        const file = part.file;
        const tooLarge = () => new HttpProblem(413, 'fst_req_file_too_large', `the file is over ${opts.maxBytes} bytes (MAX_DATASET_BYTES); send a smaller file or gzip it`);
        async function* untruncated() {
          for await (const chunk of file) yield chunk as Buffer;
          if (file.truncated) throw tooLarge();
        }
        const hash = opts.hash ? createHash('sha256') : undefined;
        table = await readTable(untruncated(), { ...opts, format: fileFormat(part), target: fields.target || opts.target, hash, tooLarge });
        fileHash = hash?.digest('hex');
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    if (table) discardTable(table);
    // Limits keep their status (413); a body busboy cannot read is the client's, not ours.
    const status = (err as { statusCode?: number }).statusCode;
    if (err instanceof HttpProblem || (status && status < 500)) throw err;
    throw new HttpProblem(400, 'invalid_multipart', `the multipart body does not parse: ${(err as Error).message}`);
  }
  if (!table) throw new HttpProblem(400, 'invalid_multipart', "no 'file' part; send the CSV as a file field named 'file'", [{ path: 'file', message: 'required', in: 'body' }]);
  return { table, fields, fileHash };
}

/** {@link splitTarget}, freeing the table when the target is unknown. */
function splitOrDiscard(table: ParsedTable, target?: string): ParsedDataset {
  try {
    return splitTarget(table, target);
  } catch (err) {
    discardTable(table);
    throw err;
  }
}

const UploadHeadersSchema = z.looseObject({
  'idempotency-key': IdempotencyKeyHeader.optional().describe('Same key and body → same dataset'),
});

/** `POST/GET/DELETE /v1/datasets`. */
export const datasetRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  const limits = { maxRows: svc.config.MAX_DATASET_ROWS, maxColumns: svc.config.MAX_DATASET_COLUMNS };


  app.post(
    '/v1/datasets',
    {
      // application/json only: CSV, JSON Lines and multipart stream under MAX_DATASET_BYTES
      bodyLimit: Math.min(svc.config.MAX_JSON_DATASET_BYTES, svc.config.MAX_DATASET_BYTES),
      schema: {
        tags: ['datasets'],
        operationId: 'uploadDataset',
        summary: 'Upload a dataset (text/csv or JSON Lines streamed, multipart/form-data, or JSON)',
        querystring: DatasetUploadQuerySchema,
        headers: UploadHeadersSchema,
        body: { content: { 'application/json': { schema: DatasetJsonBodySchema } } } as never,
        'x-extra-body-content': DATASET_UPLOAD_DOC_CONTENT,
        response: { 201: DatasetSchema, ...problemResponses(400, 409, 413, 415, 422) },
        'x-response-descriptions': {
          201: 'Dataset stored (Location: /v1/datasets/{id}); a replayed Idempotency-Key answers the same dataset with Idempotent-Replayed: true',
          400: 'Invalid query, JSON body, CSV, JSON Lines, gzip or multipart (problem+json with errors[].path)',
          409: 'A request with the same Idempotency-Key is still being processed; retry shortly',
          413: 'Body over MAX_DATASET_BYTES (JSON: MAX_JSON_DATASET_BYTES), or more rows/columns than MAX_DATASET_ROWS/MAX_DATASET_COLUMNS',
          415: 'Not application/json, text/csv, JSON Lines or multipart/form-data, or a Content-Encoding other than gzip',
          422: 'The Idempotency-Key was used with a different upload',
        },
      } as never,
    },
    async (req, reply) => {
      const query = req.query as z.infer<typeof DatasetUploadQuerySchema>;
      let parsed: ParsedDataset;
      let name = query.name;
      let hash: string;
      const wantsHash = (req.headers as { 'idempotency-key'?: string })['idempotency-key'] !== undefined;
      const format = tableFormatOf(req.headers['content-type']);
      if (req.isMultipart() || format) {
        const contentLength = Number(req.headers['content-length']);
        const maxBytes = svc.config.MAX_DATASET_BYTES;
        // whatever happens, a body left half-read must not hold the keep-alive connection
        const unread = () => {
          if (!req.raw.complete) reply.header('connection', 'close');
        };
        if (contentLength > maxBytes) {
          unread();
          throw bodyTooLarge(maxBytes)();
        }
        const encoding = req.headers['content-encoding']?.trim().toLowerCase();
        if (encoding && encoding !== 'gzip' && encoding !== 'identity') {
          unread();
          throw new HttpProblem(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported; send gzip or no encoding`, [
            { path: 'content-encoding', message: 'gzip or identity', in: 'header' },
          ]);
        }
        const opts = { maxBytes, limits, gzip: encoding === 'gzip', hash: wantsHash ? createHash('sha256') : undefined };
        if (req.isMultipart()) {
          const { table, fields, fileHash } = await readMultipart(req.parts() as never, { ...opts, target: query.target }).catch((err) => {
            unread();
            throw err;
          });
          // the same bounds as the JSON body and the query give these fields
          for (const f of ['name', 'target'] as const)
            if (fields[f] !== undefined && fields[f].length > 200) {
              discardTable(table);
              throw invalidField(f, 'at most 200 characters');
            }
          name = fields.name || name;
          parsed = splitOrDiscard(table, fields.target || query.target);
          hash = createHash('sha256').update(bodyHash({ query, name: fields.name, target: fields.target })).update(fileHash ?? '').digest('hex');
        } else {
          const table = await readTable(req.body as Readable, { ...opts, format: format!, target: query.target }).catch((err) => {
            unread();
            throw err;
          });
          parsed = splitOrDiscard(table, query.target);
          hash = createHash('sha256').update(bodyHash({ query, format })).update(opts.hash?.digest('hex') ?? '').digest('hex');
        }
      } else if (typeof req.body !== 'object' || req.body === null) {
        // Fastify parses text/plain too; a dataset is JSON, JSON Lines, CSV or multipart only.
        throw new HttpProblem(415, 'unsupported_media_type', `send application/json, text/csv, application/x-ndjson or multipart/form-data, not ${req.headers['content-type']}`);
      } else {
        const body = req.body as DatasetJsonBody;
        name = body.name ?? name;
        parsed = parseJsonDataset(body, limits);
        hash = bodyHash({ query, body });
      }
      const id = newId('ds');
      const key = (req.headers as { 'idempotency-key'?: string })['idempotency-key'];
      if (key) {
        const claim = await claimIdempotencyKey(svc.redis, svc.keys, {
          tenant: req.tenant,
          scope: 'datasets',
          key,
          hash,
          resourceId: id,
          ttlSeconds: svc.config.IDEMPOTENCY_TTL_SECONDS,
        });
        if (claim.kind === 'conflict')
          throw new HttpProblem(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different upload; use a new key for a new dataset', [
            { path: 'idempotency-key', message: 'already used with a different body', in: 'header' },
          ]);
        if (claim.kind === 'replay') {
          const ds = await awaitIdempotentResource(() => svc.datasets.get(claim.resourceId, req.tenant), 100);
          return reply.code(201).header('location', `/v1/datasets/${ds.id}`).header('idempotent-replayed', 'true').send(ds);
        }
      }
      const meta = await svc.datasets.create({ id, tenant: req.tenant, name: name ?? 'dataset', ...parsed });
      req.log.info({ datasetId: meta.id, rows: meta.rows, features: meta.features, bytes: meta.bytes }, 'dataset stored');
      return reply.code(201).header('location', `/v1/datasets/${meta.id}`).send(meta);
    },
  );

  app.get(
    '/v1/datasets',
    { schema: { tags: ['datasets'], operationId: 'listDatasets', summary: 'List datasets, newest first', querystring: DatasetListQuerySchema, response: { 200: DatasetListSchema, ...problemResponses(400) }, 'x-response-descriptions': { 200: 'One page of datasets, newest first; `next` is the cursor of the next page (null at the end)' } } },
    async (req) => svc.datasets.list(req.tenant, req.query.limit, req.query.after),
  );

  app.get(
    '/v1/datasets/:id',
    { schema: { tags: ['datasets'], operationId: 'getDataset', summary: 'Dataset metadata', params: IdParamsSchema, response: { 200: DatasetSchema, ...problemResponses(404) }, 'x-response-descriptions': { 200: 'Dataset metadata', 404: 'No dataset with this id' } } },
    async (req) => {
      const ds = await svc.datasets.get(req.params.id, req.tenant);
      if (!ds) throw notFound('dataset', req.params.id);
      return ds;
    },
  );

  app.delete(
    '/v1/datasets/:id',
    { schema: { tags: ['datasets'], operationId: 'deleteDataset', summary: 'Delete a dataset (409 while a queued or running job uses it)', params: IdParamsSchema, response: { 204: z.null().describe('Deleted'), ...problemResponses(404, 409) }, 'x-response-descriptions': { 204: 'Deleted', 404: 'No dataset with this id', 409: 'A queued or running job uses this dataset' } } },
    async (req, reply) => {
      if (!(await svc.datasets.delete(req.params.id, req.tenant))) throw notFound('dataset', req.params.id);
      return reply.code(204).send(null);
    },
  );
};
