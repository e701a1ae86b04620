import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { friedman1 } from '../helpers/data.js';
import { startService, type ServiceProcs } from '../helpers/processes.js';
import { readSse } from '../helpers/sse-client.js';
import { waitForState } from '../helpers/wait.js';

/*
 * Sweeps through the real service: the API and two worker processes over real Redis. The
 * learning claim runs on Friedman #1 (seeded), a grid of 4 optimizers × 3 learning rates, once
 * without pruning and once with ASHA (one trial at a time, so the order trials reach their rungs,
 * and with it every decision, is deterministic).
 */
let base = '';
let service: ServiceProcs | undefined;
let datasetId = '';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

async function waitSweep(id: string, timeoutMs = 120_000): Promise<Json> {
  const read = async () => (await call('GET', `/v1/sweeps/${id}`)).json;
  return waitForState(`sweep ${id} to end`, read, (sw) => sw.status !== 'running', { timeoutMs, intervalMs: 200 });
}

const base18 = {
  model: { layers: [{ units: 32, activation: 'tanh' }, { units: 32, activation: 'tanh' }, { units: 1, activation: 'linear' }] },
  loss: 'mse',
  optimizer: { type: 'sgd', learningRate: 0.01 },
  epochs: 18,
  batchSize: 32,
  normalize: true,
  validationSplit: 0.25,
  seed: 1,
};
const grid = {
  'optimizer.type': { values: ['sgd', 'momentum', 'rmsprop', 'adam'] },
  'optimizer.learningRate': { values: [0.001, 0.003, 0.01] },
};

beforeAll(async () => {
  service = await startService('sweeps', { workers: 2 });
  base = service.base;
  const { features, targets } = friedman1(1000, 1);
  const ds = await call('POST', '/v1/datasets', { name: 'friedman1', features, targets });
  expect(ds.status).toBe(201);
  datasetId = ds.json.id;
}, 60_000);

afterAll(async () => service?.stop());

describe('sweeps over the real service', () => {
  it('refuses a bad search space with a 400 naming the field, and a trial that does not fit with the trial and its field', async () => {
    const body = { datasetId, base: base18, method: 'grid', parameters: grid, metric: { name: 'valLoss', goal: 'minimize' } };
    const cases: [unknown, string, RegExp][] = [
      [{ ...body, parameters: { 'optimizer.learningRate': { distribution: 'log_uniform', min: 1e-4, max: 1e-1 } } }, 'parameters.optimizer.learningRate', /grid takes only finite 'values'/],
      [{ ...body, method: 'random' }, 'maxTrials', /required for method 'random'/],
      [{ ...body, method: 'random', maxTrials: 3, parameters: { 'optimizer.learningRate': { distribution: 'log_uniform', min: 0, max: 1 } } }, 'parameters.optimizer.learningRate.min', /./],
      [{ ...body, method: 'random', maxTrials: 3, parameters: { 'optimizer.learningRate': { distribution: 'uniform', min: 1, max: 0.5 } } }, 'parameters.optimizer.learningRate.max', /greater than min/],
      [{ ...body, maxTrials: 5 }, 'maxTrials', /12 combinations, more than 5/],
      [{ ...body, parameters: { 'model.layers.2.units': { values: [1, 3] } } }, 'trials.1.model.layers.2.units', /trial 1 \(model\.layers\.2\.units=3\).*1 target/],
      [{ ...body, parameters: { 'optimizer.learningRate': { values: [0.01, -1] } } }, 'trials.1.optimizer.learningRate', /trial 1/],
      [{ ...body, parameters: { 'model.layers.7.units': { values: [4] } } }, 'parameters.model.layers.7.units', /index 7 does not exist/],
      [{ ...body, base: { ...base18, validationSplit: 0 } }, 'trials.0.validationSplit', /needs a validation split/],
      [{ ...body, earlyStop: { type: 'asha', minEpochs: 18, eta: 3 } }, 'trials.0.epochs', /no rung/],
    ];
    for (const [b, path, message] of cases) {
      const r = await call('POST', '/v1/sweeps', b);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
      expect(r.json.errors[0].path).toBe(path);
      expect(r.json.errors[0].message).toMatch(message);
    }
    expect((await call('POST', '/v1/sweeps', { ...body, datasetId: 'ds_nope' })).status).toBe(404);
    expect((await call('GET', '/v1/sweeps?bogus=1')).status).toBe(400);
    expect((await call('GET', '/v1/sweeps/sw_nope')).status).toBe(404);
  });

  it(
    'momentum, RMSprop and Adam beat SGD on Friedman #1; ASHA picks the same best with ≤ 60% of the epochs, pruned trials keep their model',
    async () => {
      const body = { datasetId, base: base18, method: 'grid', parameters: grid, metric: { name: 'valLoss', goal: 'minimize' }, maxConcurrent: 2 };
      const full = await call('POST', '/v1/sweeps', body);
      expect(full.status).toBe(202);
      expect(full.headers.get('location')).toBe(`/v1/sweeps/${full.json.id}`);
      expect(full.json.trialCount).toBe(12);
      const asha = await call('POST', '/v1/sweeps', { ...body, maxConcurrent: 1, earlyStop: { type: 'asha', minEpochs: 2, eta: 3 } });
      expect(asha.status).toBe(202);

      // Follow the ASHA sweep's events live to its terminal event.
      const events = await readSse(`${base}/v1/sweeps/${asha.json.id}/events`, { timeoutMs: 120_000 });
      expect(events.closedByServer).toBe(true);
      const types = events.events.map((e) => e.event);
      expect(types.at(-1)).toBe('sweep.completed');
      for (const t of ['trial.started', 'trial.pruned', 'trial.completed', 'sweep.best']) expect(types).toContain(t);
      expect(events.events.map((e) => Number(e.id))).toEqual(events.events.map((_, i) => i + 1));
      // Last-Event-ID replays exactly what followed.
      const mid = events.events[Math.floor(events.events.length / 2)].id!;
      const replay = await readSse(`${base}/v1/sweeps/${asha.json.id}/events`, { lastEventId: mid });
      expect(replay.events.map((e) => e.id)).toEqual(events.events.slice(events.events.findIndex((e) => e.id === mid) + 1).map((e) => e.id));

      const A = await waitSweep(full.json.id);
      const B = await waitSweep(asha.json.id);
      expect(A.status).toBe('completed');
      expect(A.counts).toEqual({ completed: 12 });
      const finalOf = (t: Json) => t.metric as number;
      const bestBy = (opt: string) => Math.min(...A.trials.filter((t: Json) => t.params['optimizer.type'] === opt).map(finalOf));
      const sgd = bestBy('sgd');
      const figures = Object.fromEntries(['sgd', 'momentum', 'rmsprop', 'adam'].map((o) => [o, bestBy(o)]));
      console.log('best valLoss by optimizer (18 epochs, no pruning):', figures);
      for (const opt of ['momentum', 'rmsprop', 'adam']) expect(bestBy(opt)).toBeLessThan(sgd);
      expect(A.best.params['optimizer.type']).not.toBe('sgd');
      expect(A.best.metric).toBe(Math.min(...A.trials.map(finalOf)));
      expect(A.epochsRun).toBe(12 * 18);
      expect(A.rungs).toEqual([]);

      expect(B.status).toBe('completed');
      console.log('ASHA:', { epochsRun: B.epochsRun, full: A.epochsRun, ratio: B.epochsRun / A.epochsRun, counts: B.counts, best: B.best.params, decisions: B.rungs.length });
      expect(B.epochsRun).toBeLessThanOrEqual(0.6 * A.epochsRun);
      expect(B.best.params).toEqual(A.best.params);
      expect(B.best.metric).toBe(A.best.metric); // same spec and seed: the same run
      expect(B.counts.pruned).toBeGreaterThan(0);
      // Every decision is recorded: each pruned trial has a 'prune' at its rung epoch, and ranks obey the rule.
      for (const d of B.rungs) expect(d.decision).toBe(d.rank < Math.ceil(d.reached / 3) ? 'continue' : 'prune');
      for (const t of B.trials.filter((t: Json) => t.status === 'pruned')) {
        expect(B.rungs.some((d: Json) => d.trial === t.index && d.decision === 'prune' && d.epoch === t.epochsRun)).toBe(true);
        expect([2, 6]).toContain(t.epochsRun);
        const job = (await call('GET', `/v1/jobs/${t.jobId}`)).json;
        expect(job).toMatchObject({ status: 'pruned', sweepId: B.id, sweepTrial: t.index, result: { epochsRun: t.epochsRun, stoppedEarly: true } });
        expect(job.result.valLoss).toBe(t.metric);
        expect((await call('GET', `/v1/jobs/${t.jobId}/model`)).status).toBe(200);
        const metrics = (await call('GET', `/v1/jobs/${t.jobId}/metrics`)).json;
        expect(metrics.history).toHaveLength(t.epochsRun);
      }
      // The first trial had no competitor at its rungs: it ran to the end.
      expect(B.trials[0]).toMatchObject({ status: 'completed', epochsRun: 18 });

      // The trials table as CSV: one row per trial, one column per parameter.
      const csv = await call('GET', `/v1/sweeps/${B.id}/trials`, undefined, { accept: 'text/csv' });
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      const lines = csv.text.trim().split('\n');
      expect(lines[0]).toBe('index,jobId,status,metric,epochsRun,prunedAtEpoch,optimizer.type,optimizer.learningRate');
      expect(lines).toHaveLength(13);
      expect(lines[1]).toMatch(/^0,job_\w+,completed,[\d.]+,18,,sgd,0.001$/);
      const json = await call('GET', `/v1/sweeps/${B.id}/trials`);
      expect(json.json.trials).toHaveLength(12);
    },
    240_000,
  );

  it('cancels a running sweep: queued and running trials end cancelled, the stream ends with sweep.cancelled; a second cancel is a 409', async () => {
    const r = await call('POST', '/v1/sweeps', {
      datasetId,
      base: { ...base18, epochs: 2000 },
      method: 'random',
      seed: 7,
      maxTrials: 4,
      maxConcurrent: 2,
      parameters: { 'optimizer.learningRate': { distribution: 'log_uniform', min: 1e-4, max: 1e-2 }, 'model.layers.0.units': { distribution: 'int_uniform', min: 4, max: 8 } },
      metric: { name: 'loss', goal: 'minimize' },
    });
    expect(r.status).toBe(202);
    const id = r.json.id;
    // Seeded sampling: the draws are within their ranges, and the same body samples the same trials.
    for (const t of r.json.trials) {
      expect(t.params['optimizer.learningRate']).toBeGreaterThanOrEqual(1e-4);
      expect(t.params['optimizer.learningRate']).toBeLessThan(1e-2);
      expect([4, 5, 6, 7, 8]).toContain(t.params['model.layers.0.units']);
    }
    expect((r.json.counts.queued ?? 0) + (r.json.counts.running ?? 0)).toBe(2);
    expect(r.json.counts.pending).toBe(2);
    // Wait until a trial runs.
    await waitForState(`a trial of sweep ${id} running`, async () => (await call('GET', `/v1/sweeps/${id}`)).json.trials.map((t: Json) => t.status), (statuses: string[]) => statuses.includes('running'), { timeoutMs: 30_000, intervalMs: 100 });
    const c = await call('POST', `/v1/sweeps/${id}/cancel`);
    expect(c.status).toBe(202);
    expect(c.json.status).toBe('cancelled');
    const ev = await readSse(`${base}/v1/sweeps/${id}/events`, { timeoutMs: 10_000 });
    expect(ev.events.at(-1)!.event).toBe('sweep.cancelled');
    expect((await call('POST', `/v1/sweeps/${id}/cancel`)).status).toBe(409);
    const statuses = await waitForState(`every trial of sweep ${id} cancelled`, async () => (await call('GET', `/v1/sweeps/${id}`)).json.trials.map((t: Json) => t.status), (all: string[]) => all.every((st) => st === 'cancelled'), { timeoutMs: 30_000, intervalMs: 200 });
    expect(statuses).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
  }, 60_000);

  it('honours Idempotency-Key and pages the list with a cursor', async () => {
    const body = { datasetId, base: { ...base18, epochs: 2 }, method: 'grid', parameters: { 'optimizer.type': { values: ['adam'] } }, metric: { name: 'loss', goal: 'minimize' } };
    const a = await call('POST', '/v1/sweeps', body, { 'idempotency-key': 'k1' });
    const b = await call('POST', '/v1/sweeps', body, { 'idempotency-key': 'k1' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.json.id).toBe(a.json.id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect((await call('POST', '/v1/sweeps', { ...body, seed: 2 }, { 'idempotency-key': 'k1' })).status).toBe(422);
    await waitSweep(a.json.id);
    const all: string[] = [];
    let next: string | null = null;
    do {
      const page = await call('GET', `/v1/sweeps?limit=1${next ? `&after=${next}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.json.items.length).toBeLessThanOrEqual(1);
      all.push(...page.json.items.map((s: Json) => s.id));
      next = page.json.next;
    } while (next);
    expect(all).toContain(a.json.id);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort().reverse()).toEqual(all);
  }, 60_000);
});
