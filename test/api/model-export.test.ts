import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainingJob, type RunContext } from '../../workers/run-job.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { maxAbsDiff, runOnnx, runTfjs } from '../helpers/model-runtimes.js';
import { runContextFor } from '../helpers/run-context.js';

let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
let jobId: string;
let queuedId: string;
// Shifted and scaled so the stored normalization matters.
const rows = moons(200).map(([x, y, c]) => [10 + 3 * x, -4 + 0.2 * y, c]);
const probe = rows.slice(0, 50).map((r) => [r[0] + 0.05, r[1] - 0.01]);

beforeAll(async () => {
  t = await testApp('export');
  ctx = runContextFor(t.app);
  const ds = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], rows) })).json();
  const spec = { ...moonsSpec(ds.id, 8), model: { layers: [{ units: 8, activation: 'leaky_relu' }, { units: 6, activation: 'tanh' }, { units: 2, activation: 'softmax' }] } };
  jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).json().id;
  queuedId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).json().id;
  expect(await runTrainingJob(ctx, jobId, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

describe('GET /v1/jobs/{id}/model?format=', () => {
  it('onnx: bytes onnxruntime-node runs to /predict within 1e-5', async () => {
    const res = await t.app.inject({ url: `/v1/jobs/${jobId}/model?format=onnx` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${jobId}.onnx"`);
    const predicted = (await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload: { features: probe } })).json();
    const got = await runOnnx(res.rawPayload, probe);
    const diff = maxAbsDiff(got.output, predicted.probabilities);
    console.log(`GET model?format=onnx: max |onnx − /predict| = ${diff.toExponential(2)} over ${probe.length} rows`);
    expect(diff).toBeLessThan(1e-5);
    expect(got.label).toEqual(predicted.predictions);
  });

  it('tfjs: model.json + base64 weights.bin that tf.loadLayersModel loads and predicts like /predict', async () => {
    const res = await t.app.inject({ url: `/v1/jobs/${jobId}/model?format=tfjs` });
    expect(res.statusCode).toBe(200);
    const exp = res.json();
    expect(exp.format).toBe('tfjs-layers-model');
    expect(exp.files['model.json'].weightsManifest[0].paths).toEqual(['weights.bin']);
    const predicted = (await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload: { features: probe } })).json();
    const diff = maxAbsDiff(await runTfjs(exp, probe), predicted.probabilities);
    console.log(`GET model?format=tfjs: max |tfjs − /predict| = ${diff.toExponential(2)} over ${probe.length} rows`);
    expect(diff).toBeLessThan(1e-5);
  });

  it('json stays the default, and format=json is the same document', async () => {
    const plain = (await t.app.inject({ url: `/v1/jobs/${jobId}/model` })).json();
    expect(plain.format).toBe('tsnn-model');
    expect((await t.app.inject({ url: `/v1/jobs/${jobId}/model?format=json` })).json()).toEqual(plain);
  });

  it('an unknown format or query parameter is a 400 naming it; a job without a model a 409', async () => {
    const bad = await t.app.inject({ url: `/v1/jobs/${jobId}/model?format=pmml` });
    expect(bad.statusCode).toBe(400);
    expect(problem(bad).errors?.[0]).toMatchObject({ path: 'format', in: 'query' });
    const extra = await t.app.inject({ url: `/v1/jobs/${jobId}/model?format=onnx&opset=9` });
    expect(extra.statusCode).toBe(400);
    expect(extra.body).toContain('opset');
    const queued = await t.app.inject({ url: `/v1/jobs/${queuedId}/model?format=onnx` });
    expect(queued.statusCode).toBe(409);
  });
});
