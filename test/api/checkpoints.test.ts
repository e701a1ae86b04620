import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainingJob, type RunContext } from '../../workers/run-job.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { runContextFor } from '../helpers/run-context.js';

let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
let datasetId: string;
const spec = (epochs: number, extra: Record<string, unknown> = {}) => ({ ...moonsSpec(datasetId, epochs), validationSplit: 0.2, ...extra });

async function submit(body: Record<string, unknown>) {
  return t.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
}
async function trainJob(body: Record<string, unknown>) {
  const res = await submit(body);
  expect(res.statusCode, res.body).toBe(202);
  const id = res.json().id as string;
  expect(await runTrainingJob(ctx, id, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
  return (await t.app.inject({ url: `/v1/jobs/${id}` })).json();
}

beforeAll(async () => {
  t = await testApp('ckpt');
  ctx = { ...runContextFor(t.app), checkpointsKept: 2 };
  datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], moons(120)) })).json().id;
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

describe('checkpoints as artifacts', () => {
  let uninterrupted: { id: string; result: { weightsHash: string } };
  let first: { id: string };

  beforeAll(async () => {
    uninterrupted = await trainJob(spec(8));
    first = await trainJob(spec(5));
  });

  it('GET /v1/jobs/{id}/checkpoints lists the last CHECKPOINTS_KEPT epoch ends plus the best, with their metrics', async () => {
    const res = await t.app.inject({ url: `/v1/jobs/${first.id}/checkpoints` });
    expect(res.statusCode).toBe(200);
    const { items } = res.json();
    const epochs = items.map((k: { epoch: number }) => k.epoch);
    expect(epochs.slice(-2)).toEqual([4, 5]);
    expect(items.length).toBeLessThanOrEqual(3);
    const history = (await t.app.inject({ url: `/v1/jobs/${first.id}/metrics` })).json().history;
    for (const k of items) {
      expect(k.loss).toBe(history[k.epoch - 1].loss);
      expect(k.valLoss).toBe(history[k.epoch - 1].valLoss);
      expect(k.bytes).toBeGreaterThan(0);
    }
    const best = items.filter((k: { best: boolean }) => k.best);
    expect(best).toHaveLength(1);
    const minVal = Math.min(...history.map((h: { valLoss: number }) => h.valLoss));
    // The best kept is the best epoch overall (it is never pruned).
    expect(best[0].valLoss).toBe(minVal);
    expect((await t.app.inject({ url: '/v1/jobs/job_0000000000000000000000/checkpoints' })).statusCode).toBe(404);
  });

  it('continuing from epoch 5 for the remaining epochs with the same spec gives the uninterrupted weights hash', async () => {
    const cont = await trainJob(spec(8, { fromCheckpoint: { jobId: first.id } }));
    expect(cont.fromCheckpoint).toEqual({ jobId: first.id, epoch: 5, optimizerReset: false });
    expect(cont.spec.fromCheckpoint).toBeUndefined();
    expect(cont.result.epochsRun).toBe(8);
    expect(cont.result.weightsHash).toBe(uninterrupted.result.weightsHash);
    // Its history is the whole run: the source's 5 epochs then its own 3.
    const a = (await t.app.inject({ url: `/v1/jobs/${cont.id}/metrics` })).json().history;
    const b = (await t.app.inject({ url: `/v1/jobs/${uninterrupted.id}/metrics` })).json().history;
    expect(a.map((h: { loss: number }) => h.loss)).toEqual(b.map((h: { loss: number }) => h.loss));
    const events = (await t.app.inject({ url: `/v1/jobs/${cont.id}/events` })).body;
    expect(events).toContain('"resumed":true,"fromEpoch":5');
  });

  it('from an earlier kept epoch too (epoch 4)', async () => {
    const cont = await trainJob(spec(8, { fromCheckpoint: { jobId: first.id, epoch: 4 } }));
    expect(cont.result.weightsHash).toBe(uninterrupted.result.weightsHash);
  });

  it('another optimizer keeps the weights and starts fresh optimizer state', async () => {
    const cont = await trainJob(spec(8, { optimizer: { type: 'momentum', learningRate: 0.05 }, fromCheckpoint: { jobId: first.id } }));
    expect(cont.fromCheckpoint).toEqual({ jobId: first.id, epoch: 5, optimizerReset: true });
    expect(cont.result.weightsHash).not.toBe(uninterrupted.result.weightsHash);
    const history = (await t.app.inject({ url: `/v1/jobs/${cont.id}/metrics` })).json().history;
    const source = (await t.app.inject({ url: `/v1/jobs/${first.id}/metrics` })).json().history;
    expect(history.slice(0, 5)).toEqual(source);
    // Training went on from the checkpoint's weights, not from scratch: the 6th epoch is far below the 1st.
    expect(history[5].loss).toBeLessThan(source[0].loss);
  });

  it('incompatible specs are a 400 naming the field; unknown jobs and epochs too', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [spec(8, { model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, fromCheckpoint: { jobId: first.id } }), 'model.layers'],
      [spec(8, { seed: 4, fromCheckpoint: { jobId: first.id } }), 'seed'],
      [spec(8, { validationSplit: 0.3, fromCheckpoint: { jobId: first.id } }), 'validationSplit'],
      [spec(8, { dtype: 'float64', fromCheckpoint: { jobId: first.id } }), 'dtype'],
      [spec(5, { fromCheckpoint: { jobId: first.id } }), 'epochs'],
      [spec(8, { fromCheckpoint: { jobId: first.id, epoch: 1 } }), 'fromCheckpoint.epoch'],
    ];
    for (const [body, path] of cases) {
      const res = await submit(body);
      expect(res.statusCode, `${path}: ${res.body}`).toBe(400);
      expect(problem(res).errors?.[0].path).toBe(path);
    }
    const other = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], moons(120, 9)) })).json().id;
    const ds = await submit({ ...spec(8, { fromCheckpoint: { jobId: first.id } }), datasetId: other });
    expect(problem(ds).errors?.[0].path).toBe('datasetId');
    const missing = await submit(spec(8, { fromCheckpoint: { jobId: 'job_0000000000000000000000' } }));
    expect(missing.statusCode).toBe(404);
    expect(problem(missing).errors?.[0].path).toBe('fromCheckpoint.jobId');
    const queued = (await submit(spec(3))).json().id;
    const none = await submit(spec(8, { fromCheckpoint: { jobId: queued } }));
    expect(none.statusCode).toBe(409);
    const extra = await submit(spec(8, { fromCheckpoint: { jobId: first.id, step: 2 } }));
    expect(extra.statusCode).toBe(400);
  });
});
