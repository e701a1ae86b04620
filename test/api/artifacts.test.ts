import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainingJob, type RunContext } from '../../workers/run-job.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { problem, testApp } from '../helpers/app.js';
import { runContextFor } from '../helpers/run-context.js';
import { parseSse } from '../helpers/sse.js';

let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
let jobId: string;
let queuedId: string;
const rows = moons(200);

beforeAll(async () => {
  t = await testApp('art');
  ctx = runContextFor(t.app);
  const ds = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], rows) })).json();
  jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(ds.id, 30) })).json().id;
  queuedId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(ds.id, 5) })).json().id;
  // Train in this process with the worker's own code path (no BullMQ needed for route tests).
  expect(await runTrainingJob(ctx, jobId, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

describe('a completed job', () => {
  it('has a result, attempts 1, timestamps and last progress', async () => {
    const job = (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json();
    expect(job).toMatchObject({ status: 'completed', attempts: 1, result: { epochsRun: 30, stoppedEarly: false } });
    expect(job.result.weightsHash).toMatch(/^[0-9a-f]+$/);
    expect(job.progress).toMatchObject({ epoch: 29, epochs: 30 });
    expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(Date.parse(job.startedAt));
  });

  it('/events replays queued, running, every progress, then one completed event carrying the job', async () => {
    const events = parseSse((await t.app.inject({ url: `/v1/jobs/${jobId}/events` })).body);
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    expect(events[0]).toMatchObject({ event: 'status', data: '{"status":"queued"}' });
    expect(JSON.parse(events[1].data)).toEqual({ status: 'running', attempt: 1 });
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data));
    expect(progress.length).toBeGreaterThanOrEqual(30); // interval 0: every epoch end is sent
    for (const k of ['epoch', 'step', 'loss', 'smoothedLoss', 'lr', 'gradNorm', 'clippedSteps', 'clipped', 'samplesPerSecond']) expect(typeof progress.at(-1)[k]).toBe('number');
    // `clipped`: the deprecated old name of clippedSteps, kept for one version
    for (const p of progress) expect(p.clipped).toBe(p.clippedSteps);
    expect(progress.at(-1).layerGradNorms).toHaveLength(2);
    const epochEnds = progress.filter((p) => p.kind === 'epoch');
    expect(epochEnds.at(-1).loss).toBeLessThan(epochEnds[0].loss);
    expect(events.at(-1)!.event).toBe('completed');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ id: jobId, status: 'completed' });
    expect(events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event!))).toHaveLength(1);
  });

  it('/metrics: one row per epoch as JSON, and as CSV with Accept: text/csv', async () => {
    const json = (await t.app.inject({ url: `/v1/jobs/${jobId}/metrics` })).json();
    expect(json.history.map((m: { epoch: number }) => m.epoch)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(json.complete).toBe(true);
    for (const m of json.history) {
      expect(typeof m.gradNormMean).toBe('number');
      expect(typeof m.clippedSteps).toBe('number');
      // the deprecated old names, kept for one version
      expect(m.gradNorm).toBe(m.gradNormMean);
      expect(m.clipped).toBe(m.clippedSteps);
    }
    const csv = await t.app.inject({ url: `/v1/jobs/${jobId}/metrics`, headers: { accept: 'text/csv' } });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\n');
    expect(lines[0].split(',').slice(0, 3)).toEqual(['epoch', 'loss', 'smoothedLoss']);
    expect(lines).toHaveLength(31);
    expect(Number(lines[1].split(',')[1])).toBe(json.history[0].loss);
    const header = lines[0].split(',');
    expect(header.slice(-2)).toEqual(['gradNormMean', 'clippedSteps']);
    const row = lines[1].split(',');
    expect(Number(row[header.indexOf('gradNormMean')])).toBe(json.history[0].gradNormMean);
    expect(row[header.indexOf('gradNorm')]).toBe(row[header.indexOf('gradNormMean')]);
    expect(row[header.indexOf('clipped')]).toBe(row[header.indexOf('clippedSteps')]);
  });

  it('/model is the portable JSON with the same hash as the result', async () => {
    const job = (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json();
    const model = (await t.app.inject({ url: `/v1/jobs/${jobId}/model` })).json();
    expect(model).toMatchObject({ format: 'tsnn-model', version: 1, inputSize: 2, classes: 2, weightsHash: job.result.weightsHash });
    expect(model.normalization.featureMean).toHaveLength(2);
  });

  it('/predict classifies the training moons (raw features: the stored normalization is applied)', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload: { features: rows.map((r) => r.slice(0, 2)) } });
    expect(res.statusCode).toBe(200);
    const { predictions, probabilities } = res.json();
    const acc = predictions.filter((p: number, i: number) => p === rows[i][2]).length / rows.length;
    expect(acc).toBeGreaterThan(0.9);
    expect(probabilities[0].reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('/predict with the wrong width or no rows → 400 naming the field', async () => {
    const p = problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload: { features: [[1, 2], [1, 2, 3]] } }));
    expect(p.errors?.[0].path).toBe('features.1');
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload: { features: [] } })).errors?.[0].path).toBe('features');
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, payload: { features: [[1, 'x']] } })).errors?.[0].path).toBe('features.0.1');
  });

  it('cancel → 409', async () => {
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel` })).status).toBe(409);
  });
});

describe('artifacts of jobs that are not completed', () => {
  it('model and predict → 409 while queued; metrics → empty history', async () => {
    expect(problem(await t.app.inject({ url: `/v1/jobs/${queuedId}/model` })).status).toBe(409);
    expect(problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${queuedId}/predict`, payload: { features: [[0, 0]] } })).status).toBe(409);
    expect((await t.app.inject({ url: `/v1/jobs/${queuedId}/metrics` })).json()).toEqual({ jobId: queuedId, complete: false, history: [] });
  });

  it('unknown job → 404 on metrics, model and predict', async () => {
    expect(problem(await t.app.inject({ url: '/v1/jobs/job_nope/metrics' })).status).toBe(404);
    expect(problem(await t.app.inject({ url: '/v1/jobs/job_nope/model' })).status).toBe(404);
    expect(problem(await t.app.inject({ method: 'POST', url: '/v1/jobs/job_nope/predict', payload: { features: [[0, 0]] } })).status).toBe(404);
  });
});

describe('health', () => {
  it('/healthz 200, /readyz 200 with Redis', async () => {
    expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ url: '/readyz' })).json()).toMatchObject({ status: 'ready', checks: { redis: 'ok', blobStore: { status: 'ok', kind: 'local' } } });
  });

  it('/readyz 503 problem when Redis does not answer', async () => {
    const dead = await testApp('dead', { REDIS_URL: 'redis://127.0.0.1:1' });
    const res = await dead.app.inject({ url: '/readyz' });
    expect(problem(res).status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    dead.app.svc.redis.disconnect();
    await dead.app.close();
  });
});
