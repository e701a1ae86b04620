import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainingJob, type RunContext } from '../../workers/run-job.js';
import { noisyMoons } from '../core/helpers/datasets.js';
import { testApp } from '../helpers/app.js';
import { toCsv } from '../helpers/data.js';
import { runContextFor } from '../helpers/run-context.js';

let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
let datasetId: string;
beforeAll(async () => {
  t = await testApp('divg');
  ctx = runContextFor(t.app);
  const m = noisyMoons(1000, 0.2, 1);
  const rows = m.features.map((f, i) => [f[0], f[1], m.targets[i]]);
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], rows) });
  expect(res.statusCode).toBe(201);
  datasetId = res.json().id;
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

/** The QA report's run: 2-16(tanh)-2(softmax), sgd at learning rate 1000. */
const exploding = (extra: object = {}) => ({
  datasetId,
  model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'sgd', learningRate: 1000 },
  epochs: 8,
  batchSize: 32,
  seed: 1,
  ...extra,
});

async function runThrough(spec: object) {
  const created = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
  expect(created.statusCode).toBe(202);
  const id = created.json().id as string;
  await runTrainingJob(ctx, id, { attemptsMade: 0, maxAttempts: 3 }).catch((e: unknown) => e);
  return (await t.app.inject({ url: `/v1/jobs/${id}` })).json();
}

describe('a diverged job carries epoch, step and what in its error (GET /v1/jobs/{id})', () => {
  it('a finite loss explosion fails with diverged, what: loss, the epoch and its last step', async () => {
    const job = await runThrough(exploding());
    expect(job.status).toBe('failed');
    expect(job.attempts).toBe(1);
    // 1000 rows in batches of 32: 32 steps; the first epoch's mean loss is already over 100 × max(L0, 1).
    expect(job.error).toMatchObject({ code: 'diverged', epoch: 0, step: 32, what: 'loss' });
    expect(job.error.message).toMatch(/^training diverged at epoch 0, step 32: the training loss grew from 0\.\d+ at the start to \d+/);
    expect(job.error.message).toContain('the learning rate 1000 is probably too high; lower it (try 0.01–0.1 for sgd)');
  });

  it('maxLossGrowth passes through the API: a loose limit lets the same run complete', async () => {
    const job = await runThrough(exploding({ maxLossGrowth: 1e6 }));
    expect(job.status).toBe('completed');
    expect(job.result.epochsRun).toBe(8);
  });

  it('a spec with maxLossGrowth ≤ 1 is refused at submission', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: exploding({ maxLossGrowth: 1 }) });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('maxLossGrowth');
  });
});
