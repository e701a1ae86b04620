import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { OPENAPI_PATH, renderOpenApi } from '../../scripts/openapi.js';

describe('openapi/openapi.json', () => {
  it('matches the document generated from the routes (run `npm run openapi` when this fails)', async () => {
    const generated = await renderOpenApi();
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(generated);
  });

  it('is a valid OpenAPI 3.1 document whose $refs all resolve', async () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    const api = (await SwaggerParser.validate(structuredClone(doc))) as { openapi: string; paths: Record<string, unknown> };
    expect(api.openapi).toBe('3.1.0');
    for (const p of ['/v1/datasets', '/v1/datasets/{id}', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/jobs/{id}/metrics', '/v1/jobs/{id}/model', '/v1/jobs/{id}/predict', '/v1/jobs/{id}/cancel', '/healthz', '/readyz'])
      expect(Object.keys(doc.paths)).toContain(p);
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/docs'))).toBe(false);
  });

  it('documents the three upload media types and the spec with the core field names', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
    expect(Object.keys(doc.paths['/v1/datasets'].post.requestBody.content).sort()).toEqual(['application/json', 'multipart/form-data', 'text/csv']);
    const spec = doc.components.schemas.JobSubmissionInput;
    expect(Object.keys(spec.properties).sort()).toEqual(
      ['batchSize', 'clip', 'datasetId', 'dtype', 'earlyStopping', 'epochs', 'gradientCheck', 'loss', 'maxDurationSeconds', 'maxLossGrowth', 'model', 'normalize', 'optimizer', 'schedule', 'seed', 'validationSplit'].sort(),
    );
    expect(spec.additionalProperties).toBe(false);
    expect(Object.keys(doc.paths['/v1/jobs/{id}/events'].get.responses['200'].content)).toEqual(['text/event-stream']);
  });
});
