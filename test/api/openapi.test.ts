import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { OPENAPI_PATH, OPENAPI_YAML_PATH, renderOpenApiDocuments } from '../../scripts/openapi.js';
import { mergeIoVariants } from '../../src/api/openapi.js';
import { ProblemSchema } from '../../src/schemas/common.js';
import { DatasetJsonBodySchema, DatasetListSchema, DatasetSchema } from '../../src/schemas/dataset.js';
import { JobListSchema, JobSchema, PredictBodySchema, PredictResponseSchema } from '../../src/schemas/job.js';
import { JobSubmissionSchema } from '../../src/schemas/training-spec.js';

type Media = { schema?: { $ref?: string }; example?: unknown };
type Op = { requestBody?: { content: Record<string, Media> }; responses: Record<string, { description: string; content?: Record<string, Media> }>; security?: unknown };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
/** Every operation of the committed document, with its path and method. */
function operations(doc: { paths: Record<string, Record<string, Op>> }) {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ path, method, op })));
}
const SCHEMA_OF: Record<string, z.ZodType> = {
  Problem: ProblemSchema,
  DatasetUpload: DatasetJsonBodySchema,
  Dataset: DatasetSchema,
  DatasetList: DatasetListSchema,
  JobSubmission: JobSubmissionSchema,
  Job: JobSchema,
  JobList: JobListSchema,
  PredictRequest: PredictBodySchema,
  PredictResponse: PredictResponseSchema,
};

describe('openapi/openapi.json', () => {
  it('matches the documents generated from the routes, JSON and YAML (run `npm run openapi` when this fails)', async () => {
    const generated = await renderOpenApiDocuments();
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(generated.json);
    expect(readFileSync(OPENAPI_YAML_PATH, 'utf8')).toBe(generated.yaml);
  });

  it('is a valid OpenAPI 3.1 document whose $refs all resolve', async () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    const api = (await SwaggerParser.validate(structuredClone(doc))) as { openapi: string; paths: Record<string, unknown> };
    expect(api.openapi).toBe('3.1.0');
    for (const p of ['/v1/datasets', '/v1/datasets/{id}', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/jobs/{id}/metrics', '/v1/jobs/{id}/model', '/v1/jobs/{id}/predict', '/v1/jobs/{id}/cancel', '/healthz', '/readyz'])
      expect(Object.keys(doc.paths)).toContain(p);
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/docs'))).toBe(false);
  });

  it('documents the four upload media types and the spec with the core field names', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    expect(Object.keys(doc.paths['/v1/datasets'].post.requestBody.content).sort()).toEqual(['application/json', 'application/x-ndjson', 'multipart/form-data', 'text/csv']);
    const spec = doc.components.schemas.JobSubmission;
    expect(Object.keys(spec.properties).sort()).toEqual(
      ['batchSize', 'clip', 'datasetId', 'dtype', 'earlyStopping', 'epochs', 'gradientCheck', 'loss', 'maxDurationSeconds', 'maxLossGrowth', 'model', 'normalize', 'optimizer', 'schedule', 'seed', 'validationSplit', 'webhook', 'fromCheckpoint'].sort(),
    );
    expect(spec.additionalProperties).toBe(false);
    expect(Object.keys(doc.paths['/v1/jobs/{id}/events'].get.responses['200'].content)).toEqual(['text/event-stream']);
  });

  it('describes every response (no "Default Response") and sends errors as application/problem+json', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    expect(JSON.stringify(doc)).not.toContain('Default Response');
    let errors = 0;
    for (const { path, method, op } of operations(doc))
      for (const [status, r] of Object.entries(op.responses)) {
        expect(r.description.length, `${method} ${path} ${status}`).toBeGreaterThan(5);
        if (Number(status) >= 400) {
          errors++;
          expect(Object.keys(r.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
          expect(r.content!['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
        }
      }
    expect(errors).toBeGreaterThan(30);
    expect(doc.paths['/v1/datasets'].post.responses['201'].description).toMatch(/^Dataset stored/);
    expect(doc.paths['/v1/jobs'].post.responses['202'].description).toMatch(/^Job queued/);
    expect(doc.paths['/v1/jobs'].post.responses['400'].description).toContain('errors[].path');
  });

  it('declares bearer auth, and 401/429 on every /v1 operation (the SSE stream cap and the job cap named)', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.bearerAuth.description).toContain('API_KEYS');
    for (const { path, method, op } of operations(doc)) {
      if (path.startsWith('/v1/')) {
        expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
      } else expect(op.security, `${method} ${path}: public routes say security: []`).toEqual([]);
    }
    expect(doc.paths['/v1/jobs/{id}/events'].get.responses['429'].description).toContain('MAX_SSE_STREAMS_PER_KEY');
    expect(doc.paths['/v1/jobs'].post.responses['429'].description).toContain('MAX_ACTIVE_JOBS_PER_TENANT');
  });

  it('shows examples on the POST bodies and main responses, each valid for its zod schema', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    for (const p of ['/v1/datasets', '/v1/jobs', '/v1/jobs/{id}/predict'])
      expect(doc.paths[p].post.requestBody.content['application/json'].example, p).toBeDefined();
    expect(doc.paths['/v1/datasets'].post.requestBody.content['text/csv'].example).toMatch(/^x,y,label\n/);
    const submission = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].example;
    expect(submission).toMatchObject({ model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, epochs: 80, seed: 5 });
    expect(doc.paths['/v1/jobs'].post.responses['202'].content['application/json'].example.status).toBe('queued');
    expect(doc.paths['/v1/jobs/{id}'].get.responses['200'].content['application/json'].example.status).toBe('completed');
    let checked = 0;
    for (const { path, method, op } of operations(doc)) {
      const media = [['body', op.requestBody?.content], ...Object.entries(op.responses).map(([s, r]) => [s, r.content] as const)] as const;
      for (const [where, content] of media)
        for (const m of Object.values(content ?? {})) {
          const id = m.schema?.$ref?.split('/').pop();
          if (!id || !SCHEMA_OF[id]) continue;
          expect(m.example, `${method} ${path} ${where} ${id}`).toBeDefined();
          const parsed = SCHEMA_OF[id].safeParse(m.example);
          expect(parsed.success, `${method} ${path} ${where}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
          if (id === 'Problem') expect((m.example as { status: number }).status).toBe(Number(where));
          checked++;
        }
    }
    expect(checked).toBeGreaterThan(40);
    const sse = doc.paths['/v1/jobs/{id}/events'].get;
    expect(sse.responses['200'].content['text/event-stream'].example).toMatch(/^retry: 2000\n\nid: 1\nevent: status\n/);
    for (const word of ['`event: status`', '`event: progress`', '`completed`', '`failed`', '`cancelled`', 'Last-Event-ID', 'lastEventId'])
      expect(sse.responses['200'].description).toContain(word);
    expect(sse.parameters.map((p: { in: string; name: string }) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['query:lastEventId', 'header:last-event-id']));
  });

  it('lists each zod component once: XInput is merged into X when they are the same schema', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    const ids = Object.keys(doc.components.schemas);
    expect(ids.filter((id) => id.endsWith('Input'))).toEqual([]);
    expect(ids).toEqual(expect.arrayContaining(['Problem', 'Dataset', 'DatasetUpload', 'Job', 'JobSubmission', 'TrainingSpec', 'OptimizerSpec']));
    expect(JSON.stringify(doc)).not.toContain('9007199254740991');
    // the merge keeps XInput apart when it differs from X, and drops what no path reaches
    const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
    const merged = mergeIoVariants({
      paths: { '/a': { post: { requestBody: { content: { 'application/json': { schema: ref('AInput') } } }, responses: { 200: { content: { 'application/json': { schema: ref('B') } } } } } } },
      components: {
        schemas: {
          A: { type: 'object', properties: { c: ref('C') }, additionalProperties: false },
          AInput: { type: 'object', properties: { c: ref('CInput') }, additionalProperties: false },
          B: { type: 'object', additionalProperties: false },
          BInput: { type: 'object' },
          C: { type: 'string' },
          CInput: { type: 'string' },
          D: { type: 'number' },
        },
      },
    }) as { paths: unknown; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(merged.components.schemas).sort()).toEqual(['A', 'B', 'C']);
    expect(JSON.stringify(merged.paths)).toContain('"#/components/schemas/A"');
  });
});
