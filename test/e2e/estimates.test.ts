import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { friedman1 } from '../helpers/data.js';
import { startService, type ServiceProcs } from '../helpers/processes.js';
import { waitForState } from '../helpers/wait.js';

/*
 * Estimates through the real service (API + one worker process, real Redis): `?dryRun=true`
 * queues nothing, the worker publishes the throughput it measures, and once it has measured
 * itself the estimate of jobs of several sizes is within 2× of their actual training time.
 */
let base = '';
let service: ServiceProcs | undefined;
let datasetId = '';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json };
}

const specOf = (units: number, epochs: number) => ({
  datasetId,
  model: { layers: [{ units, activation: 'tanh' }, { units, activation: 'tanh' }, { units: 1, activation: 'linear' }] },
  loss: 'mse',
  optimizer: { type: 'adam', learningRate: 0.001 },
  epochs,
  batchSize: 32,
  validationSplit: 0.2,
  seed: 1,
});

async function runToEnd(spec: unknown): Promise<Json> {
  const sub = await call('POST', '/v1/jobs', spec);
  expect(sub.status).toBe(202);
  const read = async () => {
    const j = (await call('GET', `/v1/jobs/${sub.json.id}`)).json;
    expect(['queued', 'running', 'completed']).toContain(j.status);
    return j;
  };
  return waitForState(`job ${sub.json.id} to complete`, read, (j) => j.status === 'completed', { timeoutMs: 60_000, intervalMs: 100 });
}

beforeAll(async () => {
  service = await startService('estimates');
  base = service.base;
  const { features, targets } = friedman1(2000, 1);
  const ds = await call('POST', '/v1/datasets', { name: 'friedman1', features, targets });
  expect(ds.status).toBe(201);
  datasetId = ds.json.id;
}, 60_000);

afterAll(async () => service?.stop());

describe('estimates before running', () => {
  it('dryRun=true validates fully and answers the cost, queueing nothing (jobs and sweeps); a bad spec is still a 400', async () => {
    const r = await call('POST', '/v1/jobs?dryRun=true', specOf(64, 8));
    expect(r.status).toBe(200);
    // 10 inputs → 64 → 64 → 1; 1600 training rows, 400 validation rows
    const params = 10 * 64 + 64 + 64 * 64 + 64 + 64 + 1;
    expect(r.json).toMatchObject({ dryRun: true, params, flopsPerEpoch: 6 * params * 1600 + 2 * params * 400, flops: 8 * (6 * params * 1600 + 2 * params * 400) });
    expect(r.json.memoryBytes).toBeGreaterThan(2000 * 11 * 8);
    expect(r.json.throughput.source).toBe('default');
    expect(r.json.estimatedSeconds).toBeCloseTo(r.json.flops / r.json.throughput.flopsPerSecond, 6); // no overhead measured yet
    expect(r.json.queue).toMatchObject({ waiting: 0, running: 0, position: 1 });
    expect(r.json.queue.slots).toBeGreaterThanOrEqual(1);
    expect(Date.parse(r.json.estimatedFinishAt)).toBeGreaterThan(Date.now());
    expect((await call('POST', '/v1/jobs?dryRun=true', { ...specOf(64, 8), optimizer: { type: 'adam', learningRate: -1 } })).status).toBe(400);
    expect((await call('POST', '/v1/jobs?dryRun=yes', specOf(64, 8))).status).toBe(400);

    const sw = await call('POST', '/v1/sweeps?dryRun=true', {
      datasetId,
      base: (({ datasetId: _d, ...s }) => s)(specOf(16, 4)),
      method: 'grid',
      parameters: { 'model.layers.0.units': { values: [16, 32, 64] } },
      metric: { name: 'valLoss', goal: 'minimize' },
      maxConcurrent: 3,
    });
    expect(sw.status).toBe(200);
    expect(sw.json).toMatchObject({ dryRun: true, trials: 3, maxConcurrent: 3 });
    expect(sw.json.trialEstimates.map((t: Json) => t.params)).toEqual([16, 32, 64].map((u) => 10 * u + u + u * 16 + 16 + 16 + 1));
    expect(sw.json.trialSeconds).toBeCloseTo(sw.json.trialEstimates.reduce((a: number, t: Json) => a + t.estimatedSeconds, 0), 6);

    expect((await call('GET', '/v1/jobs')).json.items).toEqual([]);
    expect((await call('GET', '/v1/sweeps')).json.items).toEqual([]);
  });

  // Wall-clock timing on a shared 2-core machine: other test files training at the same moment can
  // slow one job 2x against the one measured seconds before (seen once in several runs), so a miss is retried.
  it('once the worker measured itself, estimates of small, middle and large jobs are within 2× of the actual training time', { timeout: 120_000, retry: 2 }, async () => {
    // Calibration: a fresh trainer's first job also compiles its kernels and warms the JIT, so one
    // job first (as any worker runs some before); then each size once, so every estimate below is
    // from its own size class (interpolation between classes: test/storage/throughput-store.test.ts).
    await runToEnd(specOf(32, 12));
    for (const [units, epochs] of [[32, 24], [64, 12], [256, 3]]) await runToEnd(specOf(units, epochs));
    const rows: Json[] = [];
    for (const [units, epochs] of [[32, 24], [64, 12], [256, 3]]) {
      const est = (await call('POST', '/v1/jobs?dryRun=true', specOf(units, epochs))).json;
      const job = await runToEnd(specOf(units, epochs));
      const actual = job.result.durationMs / 1000;
      rows.push({ units, epochs, source: est.throughput.source, estimated: +est.estimatedSeconds.toFixed(3), actual: +actual.toFixed(3), ratio: +(actual / est.estimatedSeconds).toFixed(2), submitEstimate: job.estimatedSeconds });
    }
    console.log('estimate vs actual (other work shares the machine):', rows);
    expect(rows.map((r) => r.source)).toEqual(['measured', 'measured', 'measured']);
    for (const r of rows) {
      expect(r.ratio).toBeGreaterThanOrEqual(0.5);
      expect(r.ratio).toBeLessThanOrEqual(2);
      expect(r.submitEstimate).toBeGreaterThan(0);
    }
  });

  it('a running job carries estimatedFinishAt, refreshed with its progress', async () => {
    const sub = await call('POST', '/v1/jobs', specOf(64, 400));
    const id = sub.json.id;
    const seen: string[] = [];
    const look = async () => {
      const j = (await call('GET', `/v1/jobs/${id}`)).json;
      if (j.status === 'running' && j.progress && j.estimatedFinishAt && j.estimatedFinishAt !== seen.at(-1)) seen.push(j.estimatedFinishAt);
      return { status: j.status, estimatedFinishAt: j.estimatedFinishAt, seen: seen.length };
    };
    await waitForState('3 different estimatedFinishAt while running', look, (o) => o.seen >= 3, { timeoutMs: 20_000, intervalMs: 100 });
    for (const t of seen) expect(Date.parse(t)).toBeGreaterThan(Date.now() - 1000);
    expect((await call('POST', `/v1/jobs/${id}/cancel`)).status).toBe(202);
    const done = (await call('GET', `/v1/jobs/${id}`)).json;
    expect(done.status === 'running' || done.status === 'cancelled').toBe(true);
  }, 60_000);
});
