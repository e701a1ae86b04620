import { createHash } from 'node:crypto';
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
import { parseCsvDataset, parseJsonDataset, type ParsedDataset } from '../dataset-parse.js';
import { IdempotencyKeyHeader } from '../headers.js';
import { HttpProblem, invalidField, notFound } from '../problem.js';

/** The non-JSON request bodies, for the OpenAPI document only (they are parsed by hand). */
export const DATASET_UPLOAD_DOC_CONTENT = {
  'text/csv': {
    schema: { type: 'string', description: 'CSV with a header row; `?target=` names the target column (default: last)' },
  },
  'multipart/form-data': {
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        file: { type: 'string', format: 'binary', description: 'CSV file with a header row' },
        name: { type: 'string' },
        target: { type: 'string', description: 'Target column; default: the last' },
      },
    },
  },
};

async function readMultipart(parts: AsyncIterableIterator<MultipartFile | { type: 'field'; fieldname: string; value: unknown }>) {
  const fields: Record<string, string> = {};
  let file: Buffer | undefined;
  try {
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') throw new HttpProblem(400, 'invalid_multipart', `unexpected file field '${part.fieldname}'; send the CSV as 'file'`);
        file = await part.toBuffer();
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    // Limits keep their status (413); a body busboy cannot read is the client's, not ours.
    const status = (err as { statusCode?: number }).statusCode;
    if (err instanceof HttpProblem || (status && status < 500)) throw err;
    throw new HttpProblem(400, 'invalid_multipart', `the multipart body does not parse: ${(err as Error).message}`);
  }
  if (!file) throw new HttpProblem(400, 'invalid_multipart', "no 'file' part; send the CSV as a file field named 'file'", [{ path: 'file', message: 'required', in: 'body' }]);
  return { file, fields };
}

const UploadHeadersSchema = z.looseObject({
  'idempotency-key': IdempotencyKeyHeader.optional().describe('Same key and body → same dataset'),
});

/** `POST/GET/DELETE /v1/datasets`. */
export const datasetRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  const limits = { maxRows: svc.config.MAX_DATASET_ROWS, maxColumns: svc.config.MAX_DATASET_COLUMNS };

  /** Waits for a dataset another request is storing under the same Idempotency-Key. */
  async function awaitDataset(id: string, tenant: string) {
    for (let i = 0; i < 100; i++) {
      const ds = await svc.datasets.get(id, tenant);
      if (ds) return ds;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new HttpProblem(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is still being processed; retry shortly');
  }

  app.post(
    '/v1/datasets',
    {
      bodyLimit: svc.config.MAX_DATASET_BYTES,
      schema: {
        tags: ['datasets'],
        operationId: 'uploadDataset', summary: 'Upload a dataset (JSON, text/csv or multipart/form-data)',
        querystring: DatasetUploadQuerySchema,
        headers: UploadHeadersSchema,
        body: { content: { 'application/json': { schema: DatasetJsonBodySchema } } } as never,
        'x-extra-body-content': DATASET_UPLOAD_DOC_CONTENT,
        response: { 201: DatasetSchema, ...problemResponses(400, 409, 413, 415, 422) },
        'x-response-descriptions': {
          201: 'Dataset stored (Location: /v1/datasets/{id}); a replayed Idempotency-Key answers the same dataset with Idempotent-Replayed: true',
          400: 'Invalid query, JSON body, CSV or multipart (problem+json with errors[].path)',
          409: 'A request with the same Idempotency-Key is still being processed; retry shortly',
          413: 'Body over MAX_DATASET_BYTES, or more rows/columns than MAX_DATASET_ROWS/MAX_DATASET_COLUMNS',
          415: 'Not application/json, text/csv or multipart/form-data',
          422: 'The Idempotency-Key was used with a different upload',
        },
      } as never,
    },
    async (req, reply) => {
      const query = req.query as z.infer<typeof DatasetUploadQuerySchema>;
      let parsed: ParsedDataset;
      let name = query.name;
      let hash: string;
      if (req.isMultipart()) {
        const { file, fields } = await readMultipart(req.parts() as never).catch((err) => {
          // the rest of the body stays unread in a paused stream: the next request on this keep-alive
          // connection would never be parsed (found by test/fuzz), so close it after the answer
          reply.header('connection', 'close');
          throw err;
        });
        // the same bounds as the JSON body and the query give these fields
        for (const f of ['name', 'target'] as const)
          if (fields[f] !== undefined && fields[f].length > 200) throw invalidField(f, 'at most 200 characters');
        name = fields.name || name;
        parsed = parseCsvDataset(file, fields.target || query.target, limits);
        hash = createHash('sha256').update(bodyHash({ query, name: fields.name, target: fields.target })).update(file).digest('hex');
      } else if (Buffer.isBuffer(req.body)) {
        parsed = parseCsvDataset(req.body, query.target, limits);
        hash = createHash('sha256').update(bodyHash({ query })).update(req.body).digest('hex');
      } else if (typeof req.body !== 'object' || req.body === null) {
        // Fastify parses text/plain too; a dataset is JSON, CSV or multipart only.
        throw new HttpProblem(415, 'unsupported_media_type', `send application/json, text/csv or multipart/form-data, not ${req.headers['content-type']}`);
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
          const ds = await awaitDataset(claim.resourceId, req.tenant);
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
