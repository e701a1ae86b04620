import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemSchema } from '../schemas/common.js';
import {
  completedJobExample,
  DATASET_EXAMPLE_ID,
  datasetCsvExample,
  datasetExample,
  datasetUploadExample,
  eventStreamExample,
  JOB_EXAMPLE_ID,
  jobSubmissionExample,
  metricsCsvExample,
  predictRequestExample,
  predictResponseExample,
  problemExamples,
  queuedJobExample,
} from './openapi-examples.js';

type TransformArgs = Parameters<typeof jsonSchemaTransform>[0];
type Json = Record<string, unknown>;
type ContentResponse = { description?: string; content: Record<string, { schema: unknown }> };
type RouteSchema = Json & {
  body?: unknown;
  response?: Record<string, unknown>;
  'x-extra-body-content'?: Json;
  'x-response-descriptions'?: Record<number, string>;
};

/** Media type of every error: RFC 9457 problem details. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** What each error status means on any route; a route's `x-response-descriptions` says it more precisely. */
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: an unknown or invalid query parameter, header or field (problem+json; errors[].path names each, errors[].in says where)',
  401: 'Missing or invalid API key (only when the server runs with API_KEYS set)',
  404: 'No such resource',
  409: 'Conflicts with the current state of the resource',
  413: 'Body or row count over the configured limit',
  406: 'The Accept header names no media type this route answers',
  415: 'Unsupported Content-Type',
  422: 'Well-formed but does not fit (dataset shape, cost limits, or an Idempotency-Key reused with another body)',
  429: 'Rate limit (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS per API key, per IP when open); see Retry-After',
  503: 'Redis, the queue or the blob store is unavailable; retry after Retry-After',
};

/** Errors any `/v1` route can answer, whatever the route declares: the key check, the rate limit, Redis down. */
const V1_ERRORS = [401, 429, 503];

const isV1 = (url: string) => url === '/v1' || url.startsWith('/v1/');
const isContentResponse = (r: unknown): r is ContentResponse =>
  typeof r === 'object' && r !== null && !(r instanceof z.ZodType) && typeof (r as ContentResponse).content === 'object';

/**
 * Response documentation of one route: every status gets a real description (the route's
 * `x-response-descriptions`, else the table above for errors; a success without one throws, so
 * "Default Response" never reaches the document), errors are `application/problem+json`, and
 * `/v1` routes list 401, 429 and 503. Documentation only: Fastify serializes with the route's own
 * schemas (problems are sent by `sendProblem` with their own serializer).
 */
function documentResponses(url: string, method: string, schema: RouteSchema): Record<string, unknown> | undefined {
  if (!schema.response) return undefined;
  const said = schema['x-response-descriptions'] ?? {};
  const response: Record<string, unknown> = { ...schema.response };
  if (isV1(url)) for (const code of V1_ERRORS) response[code] ??= ProblemSchema;
  // every API route refuses unknown query parameters (src/api/route-rules.ts)
  response[400] ??= ProblemSchema;
  const out: Record<string, unknown> = {};
  for (const [code, r] of Object.entries(response)) {
    const status = Number(code);
    const description = said[status] ?? (isContentResponse(r) ? r.description : undefined) ?? (r === ProblemSchema ? ERROR_DESCRIPTIONS[status] : undefined);
    if (!description) throw new Error(`${method} ${url}: response ${code} has no description (add it to x-response-descriptions)`);
    if (r === ProblemSchema) out[code] = { description, content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema } } };
    else if (isContentResponse(r)) out[code] = { ...r, description };
    else if (r instanceof z.ZodNull) out[code] = r.describe(description); // no body (204)
    else out[code] = { description, content: { 'application/json': { schema: r } } };
  }
  return out;
}

/**
 * The zod transform, plus: routes whose body is a per-content-type map (each zod schema is
 * converted by the same transform, so `$ref`s point at components, and `x-extra-body-content`
 * adds media types parsed by hand: CSV, multipart), response descriptions and problem+json
 * errors ({@link documentResponses}), and the bearer security requirement on `/v1` routes.
 */
function transform(args: TransformArgs) {
  const schema = args.schema as RouteSchema | undefined;
  if (!schema) return jsonSchemaTransform(args);
  const { body, 'x-extra-body-content': extra, 'x-response-descriptions': _said, ...rest } = schema;
  const method = String((args as { route?: { method?: unknown } }).route?.method ?? '');
  const response = documentResponses(args.url, method, schema);
  // public routes say so (security: []), rather than inheriting nothing
  const base: Json = { ...rest, ...(response ? { response } : {}), security: isV1(args.url) ? [{ bearerAuth: [] }] : [] };
  const content = (body as { content?: Record<string, { schema: unknown }> } | undefined)?.content;
  if (!content && !extra) return jsonSchemaTransform({ ...args, schema: { ...base, ...(body ? { body } : {}) } } as TransformArgs);
  const out = jsonSchemaTransform({ ...args, schema: base } as TransformArgs) as { schema: Json; url: string };
  const media: Json = {};
  for (const [type, { schema: s }] of Object.entries(content ?? {})) {
    const one = jsonSchemaTransform({ ...args, schema: { body: s } } as TransformArgs) as { schema: { body: unknown } };
    media[type] = { schema: one.schema.body };
  }
  Object.assign(media, extra ?? {});
  return { ...out, schema: { ...out.schema, body: { content: media } } };
}

const REF = '#/components/schemas/';

/** Every `$ref` target under `node`. */
function refsOf(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) refsOf(n, found);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(REF)) found.add(v.slice(REF.length));
      else refsOf(v, found);
    }
  return found;
}

/** A deep copy of `node` with `$ref`s renamed by `rename`. */
function renameRefs<T>(node: T, rename: (id: string) => string): T {
  return JSON.parse(JSON.stringify(node), (k, v) => (k === '$ref' && typeof v === 'string' && v.startsWith(REF) ? REF + rename(v.slice(REF.length)) : v));
}

/**
 * fastify-type-provider-zod 7 emits every registered schema twice, `X` (output) and `XInput`
 * (input), and has no option to merge them. Here `XInput` becomes `X` wherever the two are the
 * same JSON schema once their own references are merged the same way (found by fixpoint), and
 * components no path reaches (outputs only ever read as inputs, and the reverse) are dropped.
 */
export function mergeIoVariants(doc: Json): Json {
  const components = doc.components as { schemas?: Record<string, unknown> } | undefined;
  const schemas = components?.schemas;
  if (!schemas) return doc;
  const merged = new Set(Object.keys(schemas).filter((id) => id.endsWith('Input') && schemas[id.slice(0, -5)] !== undefined));
  const rename = (id: string) => (merged.has(id) ? id.slice(0, -5) : id);
  for (let changed = true; changed; ) {
    changed = false;
    for (const id of merged) {
      if (JSON.stringify(renameRefs(schemas[id], rename)) !== JSON.stringify(renameRefs(schemas[id.slice(0, -5)], rename))) {
        merged.delete(id);
        changed = true;
      }
    }
  }
  const out = renameRefs(
    { ...doc, components: { ...components, schemas: Object.fromEntries(Object.entries(schemas).filter(([id]) => !merged.has(id))) } },
    rename,
  ) as Json & { components: { schemas: Record<string, unknown> } };
  // Keep only what the paths reach, directly or through other components.
  const kept = out.components.schemas;
  const reached = new Set<string>();
  const queue = [...refsOf(out.paths)];
  while (queue.length) {
    const id = queue.pop()!;
    if (reached.has(id) || !(id in kept)) continue;
    reached.add(id);
    queue.push(...refsOf(kept[id]));
  }
  out.components.schemas = Object.fromEntries(Object.entries(kept).filter(([id]) => reached.has(id)));
  return out;
}

/** `z.number().int()` comes out bounded by ±2^53-1: true but noise (Swagger UI shows it as the sample value). */
function dropSafeIntegerBounds(node: unknown): void {
  if (Array.isArray(node)) for (const n of node) dropSafeIntegerBounds(n);
  else if (node && typeof node === 'object') {
    const o = node as Json;
    if (o.minimum === Number.MIN_SAFE_INTEGER) delete o.minimum;
    if (o.maximum === Number.MAX_SAFE_INTEGER) delete o.maximum;
    for (const v of Object.values(o)) dropSafeIntegerBounds(v);
  }
}

/** Example of a JSON body by component, for a request (`in`) or a response status. */
function exampleFor(component: string, status: string | 'in', path: string, hasBody: boolean): unknown {
  switch (component) {
    case 'DatasetUpload':
      return datasetUploadExample;
    case 'Dataset':
      return datasetExample;
    case 'DatasetList':
      return { items: [datasetExample], next: null };
    case 'JobSubmission':
      return jobSubmissionExample;
    case 'Job':
      return status === '200' ? completedJobExample : queuedJobExample;
    case 'JobList':
      return { items: [completedJobExample], next: null };
    case 'PredictRequest':
      return predictRequestExample;
    case 'PredictResponse':
      return predictResponseExample;
    case 'Problem': {
      const datasetMissing = status === '404' && (path.startsWith('/v1/datasets') || path === '/v1/jobs');
      const key =
        datasetMissing ? 'dataset404'
        : status === '400' && path.endsWith('/events') ? 'events400'
        : status === '400' && !hasBody ? 'query400'
        : Number(status);
      const p = problemExamples[key];
      return p && { ...p, instance: path.replace('{id}', path.startsWith('/v1/datasets') ? DATASET_EXAMPLE_ID : JOB_EXAMPLE_ID) };
    }
    default:
      return undefined;
  }
}

/** Media-type examples on request bodies and responses (Swagger UI shows these instead of `"string"`). */
function addExamples(doc: Json): void {
  const attach = (content: Record<string, Json> | undefined, status: string | 'in', path: string, hasBody: boolean) => {
    for (const [type, media] of Object.entries(content ?? {})) {
      if ('example' in media || 'examples' in media) continue;
      const ref = (media.schema as { $ref?: string } | undefined)?.$ref;
      const example =
        type === 'text/event-stream' ? eventStreamExample
        : type === 'text/csv' ? (status === 'in' ? datasetCsvExample : metricsCsvExample)
        : ref?.startsWith(REF) ? exampleFor(ref.slice(REF.length), status, path, hasBody)
        : undefined;
      if (example !== undefined) media.example = example;
    }
  };
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>))
    for (const op of Object.values(item)) {
      const body = (op.requestBody as { content?: Record<string, Json> } | undefined)?.content;
      attach(body, 'in', path, body !== undefined);
      for (const [status, r] of Object.entries((op.responses ?? {}) as Record<string, { content?: Record<string, Json> }>)) attach(r.content, status, path, body !== undefined);
    }
}

/** The finished document: zod components, merged input/output variants, examples. */
function transformObject(args: Parameters<typeof jsonSchemaTransformObject>[0]) {
  const doc = mergeIoVariants(jsonSchemaTransformObject(args) as Json);
  dropSafeIntegerBounds(doc);
  addExamples(doc);
  return doc;
}

/** The OpenAPI document of every route, and Swagger UI at `/docs` (`/docs/json`). */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'tsnn trainer service',
        description:
          'Upload datasets, train neural networks on a typed-array core, follow the loss live over SSE, predict. Errors are application/problem+json (RFC 9457). ' +
          'When the server runs with API_KEYS set, every /v1 route needs `Authorization: Bearer <key>` (401 otherwise); without API_KEYS the API is open.',
        version: '1.0.0',
        license: { name: 'Proprietary (private package, all rights reserved)', identifier: 'LicenseRef-Proprietary' },
      },
      // relative: the document describes the server that serves it (/docs/json)
      servers: [{ url: '/', description: 'The server serving this document' }],
      tags: [
        { name: 'datasets', description: 'Training data' },
        { name: 'jobs', description: 'Training jobs, their events, metrics, model and predictions' },
        { name: 'webhooks', description: 'Signed event deliveries (Standard Webhooks): endpoints, secrets, delivery log' },
        { name: 'sweeps', description: 'Hyperparameter sweeps: one job per trial, ASHA early stopping, trials table and events' },
        { name: 'spec', description: 'The choices and defaults of a training spec' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key from API_KEYS (`key:tenant` entries). Enforced on /v1 routes only when the server runs with API_KEYS set; see docs/security.md.',
          },
        },
      },
    },
    transform: transform as never,
    transformObject: transformObject as never,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
