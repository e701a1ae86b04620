import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { problem, testApp } from '../helpers/app.js';

// Found by the fuzzer: a 200 KB text/csv body of commas sent to predict (JSON only then) reached the JSON body
// schema as a Buffer, whose 200,001 index keys each got an "unknown field" error repeating zod's
// message that lists all of them (keys², "Invalid string length", a 500).
let app: FastifyInstance;
let close: () => Promise<void>;
beforeAll(async () => ({ app, close } = await testApp('media')));
afterAll(() => close());

describe('JSON-only routes refuse other media types before parsing; field errors are bounded', () => {
  it('predict with text/plain → 415 naming the type; a hostile CSV body to a missing job → 404 without reading it', async () => {
    for (const payload of ['1,2\n3,4\n', 'a' + ','.repeat(200_000)]) {
      const res = await app.inject({ method: 'POST', url: '/v1/jobs/job_0mwx5207r000f564bcbf/predict', headers: { 'content-type': 'text/plain' }, payload });
      expect(res.statusCode).toBe(415);
      const p = problem(res);
      expect(p.code).toBe('unsupported_media_type');
      expect(p.detail).toMatch(/application\/json or text\/csv; got text\/plain/);
      const csv = await app.inject({ method: 'POST', url: '/v1/jobs/job_0mwx5207r000f564bcbf/predict', headers: { 'content-type': 'text/csv' }, payload });
      expect(problem(csv).status).toBe(404);
    }
  });

  it('a JSON body with 20,000 unknown fields → 400 listing the first 50, each named', async () => {
    const body: Record<string, unknown> = { features: [[1, 2]] };
    for (let i = 0; i < 20_000; i++) body[`k${i}`] = i;
    const res = await app.inject({ method: 'POST', url: '/v1/jobs/job_0mwx5207r000f564bcbf/predict', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(400);
    const p = problem(res);
    expect(p.errors).toHaveLength(50);
    expect(p.errors![0]).toMatchObject({ path: 'k0', message: 'unknown field' });
    expect(p.detail).toMatch(/and more errors \(the first 50 are listed\)$/);
    expect(res.body.length).toBeLessThan(20_000);
  });
});
