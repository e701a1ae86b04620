import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrainingJob } from '../../workers/run-job.js';
import { testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { runContextFor } from '../helpers/run-context.js';

const KEY_A = 'tenant-a-key-0123456789abcdef';
const KEY_B = 'tenant-b-key-fedcba9876543210';
let t: Awaited<ReturnType<typeof testApp>>;
const as = (key: string, o: InjectOptions) => t.app.inject({ ...o, headers: { ...(o.headers as Record<string, string>), authorization: `Bearer ${key}` } });
let hookA: string;
let jobA: string;
let dsB: string;

beforeAll(async () => {
  t = await testApp('tenant-hooks', { API_KEYS: `${KEY_A}:a,${KEY_B}:b`, RATE_LIMIT_MAX: '0', WEBHOOK_ALLOW_PRIVATE: 'true' });
  hookA = (await as(KEY_A, { method: 'POST', url: '/v1/webhooks', payload: { url: 'http://127.0.0.1:9/a' } })).json().id;
  const csv = toCsv(['x', 'y', 'c'], moons(60));
  const dsA = (await as(KEY_A, { method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv })).json().id;
  dsB = (await as(KEY_B, { method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv })).json().id;
  jobA = (await as(KEY_A, { method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsA, 2) })).json().id;
  const ctx = runContextFor(t.app);
  expect(await runTrainingJob(ctx, jobA, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
  await ctx.cancels.close();
});
afterAll(async () => t.close());

describe("one tenant's webhooks and checkpoints are invisible to another", () => {
  it('endpoints, deliveries, redeliver and the default secret', async () => {
    expect((await as(KEY_B, { url: '/v1/webhooks' })).json().items).toEqual([]);
    for (const o of [{ url: `/v1/webhooks/${hookA}` }, { url: `/v1/webhooks/${hookA}/deliveries` }, { method: 'DELETE' as const, url: `/v1/webhooks/${hookA}` }, { method: 'POST' as const, url: `/v1/webhooks/${hookA}/deliveries/msg_x/redeliver` }])
      expect((await as(KEY_B, o)).statusCode).toBe(404);
    expect((await as(KEY_A, { url: `/v1/webhooks/${hookA}` })).statusCode).toBe(200);
    const a = (await as(KEY_A, { url: '/v1/webhooks/default/secret' })).json().secret;
    const b = (await as(KEY_B, { url: '/v1/webhooks/default/secret' })).json().secret;
    expect(a).not.toBe(b);
  });

  it("checkpoints and fromCheckpoint of another tenant's job are 404", async () => {
    expect((await as(KEY_A, { url: `/v1/jobs/${jobA}/checkpoints` })).json().items.length).toBeGreaterThan(0);
    expect((await as(KEY_B, { url: `/v1/jobs/${jobA}/checkpoints` })).statusCode).toBe(404);
    const res = await as(KEY_B, { method: 'POST', url: '/v1/jobs', payload: { ...moonsSpec(dsB, 4), fromCheckpoint: { jobId: jobA } } });
    expect(res.statusCode).toBe(404);
    expect(res.json().errors[0].path).toBe('fromCheckpoint.jobId');
  });
});
