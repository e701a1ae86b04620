import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { testApp } from '../helpers/app.js';

/*
 * Sweep routes in-process (no worker: trials stay queued): tenant isolation between two API keys,
 * the maxConcurrent limit on queued trials, and the trial jobs as ordinary jobs of the tenant.
 */
const A = 'key-of-tenant-a-0123456789';
const B = 'key-of-tenant-b-0123456789';
let app: FastifyInstance;
let close: () => Promise<void>;
const as = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  ({ app, close } = await testApp('sweeps-api', { API_KEYS: `${A}:alice,${B}:bob` }));
});
afterAll(async () => close());

describe('sweeps and tenants', () => {
  it("a tenant sees and touches only its own sweeps, and cannot sweep another tenant's dataset", async () => {
    const ds = await app.inject({ method: 'POST', url: '/v1/datasets', headers: as(A), payload: { name: 'd', features: [[0], [1], [2], [3], [4], [5]], targets: [0, 1, 2, 3, 4, 5] } });
    expect(ds.statusCode).toBe(201);
    const body = {
      datasetId: ds.json().id,
      base: { model: { layers: [{ units: 1, activation: 'linear' }] }, loss: 'mse', optimizer: { type: 'sgd', learningRate: 0.01 }, epochs: 2, batchSize: 2 },
      method: 'grid',
      parameters: { 'optimizer.learningRate': { values: [0.1, 0.01, 0.001] } },
      metric: { name: 'loss', goal: 'minimize' },
      maxConcurrent: 2,
    };
    const created = await app.inject({ method: 'POST', url: '/v1/sweeps', headers: as(A), payload: body });
    expect(created.statusCode).toBe(202);
    const s = created.json();
    // maxConcurrent: two trials have a queued job, the third waits without one
    expect(s.trials.map((t: { status: string }) => t.status)).toEqual(['queued', 'queued', 'pending']);
    const job = await app.inject({ method: 'GET', url: `/v1/jobs/${s.trials[0].jobId}`, headers: as(A) });
    expect(job.json()).toMatchObject({ status: 'queued', sweepId: s.id, sweepTrial: 0, spec: { optimizer: { learningRate: 0.1 } } });

    for (const [method, url] of [['GET', `/v1/sweeps/${s.id}`], ['GET', `/v1/sweeps/${s.id}/trials`], ['GET', `/v1/sweeps/${s.id}/events`], ['POST', `/v1/sweeps/${s.id}/cancel`], ['GET', `/v1/jobs/${s.trials[0].jobId}`]] as const) {
      expect((await app.inject({ method, url, headers: as(B) })).statusCode, url).toBe(404);
    }
    expect((await app.inject({ method: 'GET', url: '/v1/sweeps', headers: as(B) })).json().items).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/v1/sweeps', headers: as(A) })).json().items.map((x: { id: string }) => x.id)).toEqual([s.id]);
    expect((await app.inject({ method: 'POST', url: '/v1/sweeps', headers: as(B), payload: body })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/v1/sweeps/${s.id}` })).statusCode).toBe(401);

    const c = await app.inject({ method: 'POST', url: `/v1/sweeps/${s.id}/cancel`, headers: as(A) });
    expect(c.statusCode).toBe(202);
    expect(c.json().trials.map((t: { status: string }) => t.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect((await app.inject({ method: 'GET', url: `/v1/jobs/${s.trials[1].jobId}`, headers: as(A) })).json().status).toBe('cancelled');
  });
});
