/**
 * CSV predict (streamed both ways, features by header name) and evaluate, on a job trained in
 * this process with the worker's own code path; answers checked against the JSON predict and
 * against metrics counted here from its predictions.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainingJob, type RunContext } from '../../workers/run-job.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { problem, testApp } from '../helpers/app.js';
import { runContextFor } from '../helpers/run-context.js';

let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
let jobId: string;
let dsId: string;
const rows = moons(300);
const csvType = { 'content-type': 'text/csv' };

beforeAll(async () => {
  t = await testApp('bulk', { API_KEYS: 'bulk-key-aaaaaaaaaaaaaaaa:a,bulk-key-bbbbbbbbbbbbbbbb:b' });
  ctx = runContextFor(t.app);
  const auth = { authorization: 'Bearer bulk-key-aaaaaaaaaaaaaaaa' };
  dsId = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...csvType, ...auth }, payload: toCsv(['x', 'y', 'c'], rows) })).json().id;
  jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: auth, payload: moonsSpec(dsId, 20) })).json().id;
  expect(await runTrainingJob(ctx, jobId, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

const A = { authorization: 'Bearer bulk-key-aaaaaaaaaaaaaaaa' };
const B = { authorization: 'Bearer bulk-key-bbbbbbbbbbbbbbbb' };
const post = (url: string, headers: Record<string, string>, payload: unknown) => t.app.inject({ method: 'POST', url, headers: { ...A, ...headers }, payload: payload as string });

describe('POST /v1/jobs/{id}/predict with text/csv', () => {
  it('answers CSV (prediction, then probabilities) equal to the JSON predict, columns by name, the target ignored', async () => {
    const json = (await post(`/v1/jobs/${jobId}/predict`, {}, { features: rows.map((r) => [r[0], r[1]]) })).json();
    // columns reordered, the target column kept: it is ignored
    const res = await post(`/v1/jobs/${jobId}/predict`, { ...csvType, accept: 'text/csv' }, toCsv(['c', 'y', 'x'], rows.map((r) => [r[2], r[1], r[0]])));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.body.trim().split('\n');
    expect(lines[0]).toBe('prediction,probability_0,probability_1');
    expect(lines).toHaveLength(rows.length + 1);
    const parsed = lines.slice(1).map((l) => l.split(',').map(Number));
    expect(parsed.map((p) => p[0])).toEqual(json.predictions);
    expect(parsed.map((p) => p.slice(1))).toEqual(json.probabilities);
  });

  it('answers the JSON predict shape without Accept: text/csv, also gzipped and over 1024 rows (several batches)', async () => {
    const many = moons(2500, 11);
    const body = gzipSync(toCsv(['x', 'y'], many.map((r) => [r[0], r[1]])));
    const res = await post(`/v1/jobs/${jobId}/predict`, { ...csvType, 'content-encoding': 'gzip' }, body);
    expect(res.statusCode).toBe(200);
    const out = res.json();
    expect(out.predictions).toHaveLength(2500);
    expect(out.probabilities).toHaveLength(2500);
    const direct = (await post(`/v1/jobs/${jobId}/predict`, {}, { features: many.slice(2000).map((r) => [r[0], r[1]]) })).json();
    expect(out.predictions.slice(2000)).toEqual(direct.predictions);
  });

  it.each([
    ['a missing feature column', 'x,c\n1,0\n', 'csv:1', /no column 'y'/],
    ['an unknown column', 'x,y,z\n1,2,3\n', 'csv:1:3', /'z' is not a feature/],
    ['a bad cell', 'x,y\n1,2\n3,abc\n', 'csv:3:2', /'abc' is not a finite/],
    ['no rows', 'x,y\n', 'body', /no data rows/],
  ])('%s → 400 at %s', async (_n, body, path, detail) => {
    const p = problem(await post(`/v1/jobs/${jobId}/predict`, { ...csvType, accept: 'text/csv' }, body));
    expect(p.status).toBe(400);
    expect(p.errors?.[0].path).toBe(path);
    expect(p.detail).toMatch(detail);
  });

  it("another tenant's job → 404; an unsupported type → 415; Accept it cannot answer → 406", async () => {
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, headers: { ...B, ...csvType }, payload: 'x,y\n1,2\n' })).status).toBe(404);
    expect(problem(await post(`/v1/jobs/${jobId}/predict`, { 'content-type': 'text/plain' }, 'x')).status).toBe(415);
    expect(problem(await post(`/v1/jobs/${jobId}/predict`, { ...csvType, accept: 'image/png' }, 'x,y\n1,2\n')).status).toBe(406);
  });
});

describe('POST /v1/jobs/{id}/evaluate', () => {
  it('classification metrics agree with the predictions counted here', async () => {
    const res = await post(`/v1/jobs/${jobId}/evaluate`, {}, { datasetId: dsId });
    expect(res.statusCode).toBe(200);
    const ev = res.json();
    const pred = (await post(`/v1/jobs/${jobId}/predict`, {}, { features: rows.map((r) => [r[0], r[1]]) })).json();
    const cm = [
      [0, 0],
      [0, 0],
    ];
    let loss = 0;
    rows.forEach((r, i) => {
      cm[r[2]][pred.predictions[i]]++;
      loss -= Math.log(pred.probabilities[i][r[2]]);
    });
    expect(ev.rows).toBe(300);
    expect(ev.confusionMatrix).toEqual(cm);
    expect(ev.accuracy).toBeCloseTo((cm[0][0] + cm[1][1]) / 300, 12);
    expect(ev.accuracy).toBeGreaterThan(0.8);
    expect(ev.loss).toBeCloseTo(loss / 300, 10);
    expect(ev.perClass[1]).toMatchObject({ class: 1, support: 150, precision: cm[1][1] / (cm[0][1] + cm[1][1]), recall: cm[1][1] / 150 });
  });

  it('clear 4xx: columns that do not fit, another tenant, a job without a model', async () => {
    const three = (await post('/v1/datasets', csvType, toCsv(['x', 'y', 'z', 'c'], rows.slice(0, 10).map((r) => [r[0], r[1], 0, r[2]])))).json().id;
    let p = problem(await post(`/v1/jobs/${jobId}/evaluate`, {}, { datasetId: three }));
    expect([p.status, p.errors?.[0].path]).toEqual([400, 'datasetId']);
    expect(p.detail).toMatch(/3 feature columns; the model takes 2/);
    const renamed = (await post('/v1/datasets', csvType, toCsv(['y', 'x', 'c'], rows.slice(0, 10)))).json().id;
    p = problem(await post(`/v1/jobs/${jobId}/evaluate`, {}, { datasetId: renamed }));
    expect(p.detail).toMatch(/column 1 .* is 'y' where the model was trained on 'x'/);
    const real = (await post('/v1/datasets', csvType, toCsv(['x', 'y', 'c'], rows.slice(0, 10).map((r) => [r[0], r[1], 0.5])))).json().id;
    expect(problem(await post(`/v1/jobs/${jobId}/evaluate`, {}, { datasetId: real })).detail).toMatch(/class indices/);
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/evaluate`, headers: B, payload: { datasetId: dsId } })).status).toBe(404);
    const bDs = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...B, ...csvType }, payload: toCsv(['x', 'y', 'c'], rows) })).json().id;
    expect(problem(await post(`/v1/jobs/${jobId}/evaluate`, {}, { datasetId: bDs })).code).toBe('dataset_not_found');
    const queued = (await post('/v1/jobs', {}, moonsSpec(dsId, 2))).json().id;
    expect(problem(await post(`/v1/jobs/${queued}/evaluate`, {}, { datasetId: dsId })).status).toBe(409);
    expect(problem(await post(`/v1/jobs/${jobId}/evaluate`, {}, { datasetId: dsId, extra: 1 })).status).toBe(400);
  });
});
