import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookWorker } from '../../workers/webhook-worker.js';
import { runTrainingJob } from '../../workers/run-job.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { freePort } from '../helpers/net.js';
import { testConfig, testQueuePrefix } from '../helpers/redis.js';
import { runContextFor } from '../helpers/run-context.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** What the receiver got. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}
type Answer = { status: number; headers?: Record<string, string> };

/** A real receiving HTTP server on loopback; `answers[path]` says what to answer next (then 200). */
class Receiver {
  readonly got: Received[] = [];
  readonly answers = new Map<string, Answer[]>();
  private server: Server | null = null;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.got.push({ path, headers: req.headers, body, at: Date.now() });
        const a = this.answers.get(path)?.shift() ?? { status: 200 };
        res.writeHead(a.status, a.headers).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string): Received[] {
    return this.got.filter((g) => g.path === path);
  }
}

/** Verifies a received request with the standardwebhooks package and returns the parsed payload. */
function verified(secret: string, r: Received): { type: string; timestamp: string; data: Record<string, unknown> } {
  const headers = { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) };
  return new Webhook(secret).verify(r.body, headers) as never;
}

const SCHEDULE = '250,250,250,250,250';
let t: Awaited<ReturnType<typeof testApp>>;
let worker: WebhookWorker;
let receiver: Receiver;
let datasetId: string;

beforeAll(async () => {
  const env = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: SCHEDULE, WEBHOOK_TIMEOUT_MS: '2000' };
  t = await testApp('hooks', env);
  worker = new WebhookWorker(testConfig(t.prefix, env));
  receiver = new Receiver(await freePort());
  await receiver.start();
  datasetId = (await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], moons(60)) })).json().id;
});
afterAll(async () => {
  await worker.close();
  await receiver.stop();
  await t.close();
});

async function register(path: string, events?: string[]): Promise<{ id: string; secret: string }> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url(path), ...(events ? { events } : {}) } });
  expect(res.statusCode).toBe(201);
  return res.json();
}

/** A job cancelled while queued: the quickest real `job.cancelled` event. */
async function cancelledJob(extra: Record<string, unknown> = {}): Promise<string> {
  const id = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { ...moonsSpec(datasetId, 2), ...extra } })).json().id;
  expect((await t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` })).statusCode).toBe(200);
  return id;
}

const deliveries = async (endpoint: string) => (await t.app.inject({ url: `/v1/webhooks/${endpoint}/deliveries` })).json().items;

describe('webhook endpoints', () => {
  it('a registered endpoint gets job.completed, signed (verified by standardwebhooks), secret shown once', async () => {
    const ep = await register('/completed', ['completed']);
    expect(ep.secret).toMatch(/^whsec_/);
    expect(Buffer.from(ep.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const shown = (await t.app.inject({ url: `/v1/webhooks/${ep.id}` })).json();
    expect(shown).toMatchObject({ id: ep.id, url: receiver.url('/completed'), events: ['completed'], disabled: false });
    expect(shown.secret).toBeUndefined();
    expect((await t.app.inject({ url: '/v1/webhooks' })).json().items.map((w: { id: string }) => w.id)).toContain(ep.id);

    const jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(datasetId, 2) })).json().id;
    const ctx = runContextFor(t.app);
    expect(await runTrainingJob(ctx, jobId, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
    await ctx.cancels.close();
    const [r] = await waitFor('job.completed delivery', () => receiver.on('/completed').length >= 1 && receiver.on('/completed'));
    const payload = verified(ep.secret, r);
    const job = (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json();
    expect(payload.type).toBe('job.completed');
    expect(payload.data).toMatchObject({ id: jobId, status: 'completed', result: { epochsRun: 2, weightsHash: job.result.weightsHash } });
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.body.length).toBeLessThan(1024);
    // A tampered body fails verification: the check above can fail.
    expect(() => verified(ep.secret, { ...r, body: r.body.replace('completed', 'failed') })).toThrow();
    const [d] = await waitFor('delivery record', async () => (await deliveries(ep.id)).find((x: { status: string }) => x.status === 'succeeded') && deliveries(ep.id));
    expect(d).toMatchObject({ id: r.headers['webhook-id'], type: 'job.completed', status: 'succeeded', nextAttemptAt: null, attempts: [{ attempt: 1, statusCode: 200 }] });
    // The same event published again (a retried worker) is not delivered twice.
    await t.app.svc.webhookQueue.jobFinished(job, 'default');
    await sleep(500); // the point: nothing is delivered within this time
    expect(receiver.on('/completed')).toHaveLength(1);
    // A cancelled job is not an event this endpoint subscribed to.
    await cancelledJob();
    await sleep(500); // the point: nothing is delivered within this time
    expect(receiver.on('/completed')).toHaveLength(1);
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` })).statusCode).toBe(204);
    expect((await t.app.inject({ url: `/v1/webhooks/${ep.id}` })).statusCode).toBe(404);
  });

  it('retries after 500s with the same webhook-id, every attempt signed; deliveries list attempts and next retry', async () => {
    const ep = await register('/flaky');
    receiver.answers.set('/flaky', [{ status: 500 }, { status: 500 }]);
    const jobId = await cancelledJob();
    const got = await waitFor('3 attempts', () => receiver.on('/flaky').length >= 3 && receiver.on('/flaky'));
    expect(new Set(got.map((g) => g.headers['webhook-id'])).size).toBe(1);
    for (const g of got) expect(verified(ep.secret, g)).toMatchObject({ type: 'job.cancelled', data: { id: jobId, status: 'cancelled' } });
    const [d] = await waitFor('succeeded record', async () => {
      const items = await deliveries(ep.id);
      return items[0]?.status === 'succeeded' && items;
    });
    expect(d.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
    expect(d.id).toBe(got[0].headers['webhook-id']);
    // The pending record named the next retry while it waited.
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(200);
    await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` });
  });

  it('a receiver down for a while gets the event once it is back up', async () => {
    const ep = await register('/down');
    await receiver.stop();
    const down = Date.now();
    await cancelledJob();
    // Two refused attempts, then back up.
    await waitFor('two failed attempts', async () => (await deliveries(ep.id))[0]?.attempts.length >= 2);
    const pending = (await deliveries(ep.id))[0];
    expect(pending.status).toBe('pending');
    expect(pending.attempts[0].error).toMatch(/ECONNREFUSED/);
    expect(Date.parse(pending.nextAttemptAt)).toBeGreaterThan(down);
    await receiver.start();
    const [r] = await waitFor('delivery after the outage', () => receiver.on('/down').length >= 1 && receiver.on('/down'));
    expect(verified(ep.secret, r).type).toBe('job.cancelled');
    const d = await waitFor('succeeded', async () => (await deliveries(ep.id)).find((x: { status: string }) => x.status === 'succeeded'));
    expect(d.attempts.length).toBeGreaterThanOrEqual(3);
    await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` });
  });

  it("honours Retry-After, treats a redirect as a failure (not followed), and 410 disables the endpoint", async () => {
    const ep = await register('/gone');
    receiver.answers.set('/gone', [
      { status: 503, headers: { 'retry-after': '2' } },
      { status: 302, headers: { location: receiver.url('/elsewhere') } },
      { status: 410 },
    ]);
    await cancelledJob();
    const got = await waitFor('3 attempts', () => receiver.on('/gone').length >= 3 && receiver.on('/gone'));
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(1900); // Retry-After: 2 over a 250 ms schedule
    expect(receiver.on('/elsewhere')).toHaveLength(0);
    const d = await waitFor('failed record', async () => (await deliveries(ep.id)).find((x: { status: string }) => x.status === 'failed'));
    expect(d.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 302, 410]);
    expect(d.attempts[1].error).toMatch(/redirect 302/);
    const shown = (await t.app.inject({ url: `/v1/webhooks/${ep.id}` })).json();
    expect(shown).toMatchObject({ disabled: true });
    expect(shown.disabledReason).toMatch(/410/);
    // Disabled: the next event is not sent, and redeliver says why.
    await cancelledJob();
    await sleep(600); // the point: nothing is delivered within this time
    expect(receiver.on('/gone')).toHaveLength(3);
    const re = await t.app.inject({ method: 'POST', url: `/v1/webhooks/${ep.id}/deliveries/${d.id}/redeliver` });
    expect(re.statusCode).toBe(409);
    await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` });
  });

  it('gives up after the schedule: one attempt more than its entries, then failed', async () => {
    const ep = await register('/always500');
    receiver.answers.set('/always500', Array.from({ length: 10 }, () => ({ status: 500 })));
    await cancelledJob();
    const d = await waitFor('failed record', async () => (await deliveries(ep.id)).find((x: { status: string }) => x.status === 'failed'));
    expect(d.attempts).toHaveLength(SCHEDULE.split(',').length + 1);
    expect(d.nextAttemptAt).toBeNull();
    // Manual redeliver: the same webhook-id and body once more.
    receiver.answers.set('/always500', []);
    expect((await t.app.inject({ method: 'POST', url: `/v1/webhooks/${ep.id}/deliveries/${d.id}/redeliver` })).statusCode).toBe(202);
    const again = await waitFor('redelivery', () => receiver.on('/always500').length > d.attempts.length && receiver.on('/always500').at(-1));
    expect(again.headers['webhook-id']).toBe(d.id);
    expect(verified(ep.secret, again).type).toBe('job.cancelled');
    await waitFor('succeeded after redeliver', async () => (await deliveries(ep.id)).find((x: { status: string }) => x.status === 'succeeded'));
    await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` });
  });
});

describe('a job spec webhook', () => {
  it('is signed with the tenant default secret and listed under /v1/webhooks/default/deliveries', async () => {
    const jobId = await cancelledJob({ webhook: { url: receiver.url('/spec'), events: ['cancelled'] } });
    const job = (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json();
    expect(job.webhook).toEqual({ url: receiver.url('/spec'), events: ['cancelled'] });
    expect(job.spec.webhook).toBeUndefined();
    const { secret } = (await t.app.inject({ url: '/v1/webhooks/default/secret' })).json();
    expect((await t.app.inject({ url: '/v1/webhooks/default/secret' })).json().secret).toBe(secret);
    const [r] = await waitFor('spec webhook', () => receiver.on('/spec').length >= 1 && receiver.on('/spec'));
    expect(verified(secret, r)).toMatchObject({ type: 'job.cancelled', data: { id: jobId } });
    const d = await waitFor('default delivery', async () => (await deliveries('default')).find((x: { status: string }) => x.status === 'succeeded'));
    expect(d.url).toBe(receiver.url('/spec'));
  });

  it("asking for progress: job.progress at each epoch end but the last (interval 0 here), then job.completed", async () => {
    const jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { ...moonsSpec(datasetId, 4), webhook: { url: receiver.url('/progress'), events: ['progress', 'completed'] } } })).json().id;
    const ctx = { ...runContextFor(t.app), webhooks: t.app.svc.webhookQueue, webhookProgressIntervalMs: 0 };
    expect(await runTrainingJob(ctx, jobId, { attemptsMade: 0, maxAttempts: 1 })).toBe('completed');
    await ctx.cancels.close();
    const got = await waitFor('4 deliveries', () => receiver.on('/progress').length >= 4 && receiver.on('/progress'));
    const { secret } = (await t.app.inject({ url: '/v1/webhooks/default/secret' })).json();
    const payloads = got.map((g) => verified(secret, g));
    const progress = payloads.filter((p) => p.type === 'job.progress').map((p) => p.data);
    expect(progress.map((d) => d.epoch).sort()).toEqual([1, 2, 3]);
    const history = (await t.app.inject({ url: `/v1/jobs/${jobId}/metrics` })).json().history;
    for (const d of progress) expect(d).toMatchObject({ id: jobId, status: 'running', epochs: 4, loss: history[(d.epoch as number) - 1].loss });
    expect(payloads.filter((p) => p.type === 'job.completed')).toHaveLength(1);
    // Registered endpoints take job endings only.
    const bad = await t.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url('/x'), events: ['progress'] } });
    expect(bad.statusCode).toBe(400);
    expect(problem(bad).errors?.[0].path).toMatch(/^events/);
  });

  it('not listing the event sends nothing', async () => {
    await cancelledJob({ webhook: { url: receiver.url('/spec-completed-only'), events: ['completed'] } });
    await sleep(600); // the point: nothing is delivered within this time
    expect(receiver.on('/spec-completed-only')).toHaveLength(0);
  });
});

describe('a sweep spec webhook', () => {
  it('gets sweep.cancelled, signed with the default secret; its trials send none', async () => {
    const { datasetId: _d, ...base } = moonsSpec(datasetId, 50);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: { datasetId, base, method: 'grid', parameters: { 'optimizer.learningRate': { values: [0.01, 0.02] } }, metric: { name: 'loss', goal: 'minimize' }, webhook: { url: receiver.url('/sweep'), events: ['cancelled'] } },
    });
    expect(res.statusCode, res.body).toBe(202);
    const sweepId = res.json().id;
    expect((await t.app.inject({ method: 'POST', url: `/v1/sweeps/${sweepId}/cancel` })).statusCode).toBeLessThan(300);
    const [r] = await waitFor('sweep.cancelled', () => receiver.on('/sweep').length >= 1 && receiver.on('/sweep'));
    const { secret } = (await t.app.inject({ url: '/v1/webhooks/default/secret' })).json();
    expect(verified(secret, r)).toMatchObject({ type: 'sweep.cancelled', data: { id: sweepId, status: 'cancelled' } });
    await new Promise((res2) => setTimeout(res2, 300));
    expect(receiver.on('/sweep')).toHaveLength(1);
  });
});

describe('SSRF: non-public targets are refused unless WEBHOOK_ALLOW_PRIVATE=true', () => {
  let strict: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    strict = await testApp('hooks-ssrf');
  });
  afterAll(async () => strict.close());

  it.each([
    'http://127.0.0.1:8080/x', 'http://localhost/x', 'http://10.1.2.3/x', 'http://172.16.0.1/x', 'http://192.168.1.1/x',
    'http://169.254.169.254/latest/meta-data', 'http://[::1]/x', 'http://[fd00::1]/x', 'http://[fe80::1]/x', 'http://[::ffff:127.0.0.1]/x', 'http://0.0.0.0/x', 'http://100.64.0.1/x',
  ])('at registration: %s', async (url) => {
    const res = await strict.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url } });
    expect(res.statusCode).toBe(400);
    expect(problem(res).errors?.[0]).toMatchObject({ path: 'url' });
    expect(problem(res).detail).toMatch(/WEBHOOK_ALLOW_PRIVATE/);
  });

  it('in a job or sweep spec (errors[].path = webhook.url), and bad URLs', async () => {
    const ds = (await strict.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: toCsv(['x', 'y', 'c'], moons(20)) })).json().id;
    const res = await strict.app.inject({ method: 'POST', url: '/v1/jobs', payload: { ...moonsSpec(ds, 1), webhook: { url: 'http://127.0.0.1:9/hook' } } });
    expect(res.statusCode).toBe(400);
    expect(problem(res).errors?.[0].path).toBe('webhook.url');
    const { datasetId: _d, ...base } = moonsSpec(ds, 1);
    const sweep = await strict.app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: { datasetId: ds, base, method: 'grid', parameters: { seed: { values: [1, 2] } }, metric: { name: 'loss', goal: 'minimize' }, webhook: { url: 'http://[::1]:9/hook' } },
    });
    expect(sweep.statusCode).toBe(400);
    expect(problem(sweep).errors?.[0].path).toBe('webhook.url');
    for (const url of ['ftp://example.com/x', 'not a url', 'http://user:pw@example.com/x']) {
      const bad = await strict.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url } });
      expect(bad.statusCode).toBe(400);
    }
    const unknown = await strict.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://example.com/x', event: ['completed'] } });
    expect(unknown.statusCode).toBe(400);
  });

  it('at delivery: an endpoint registered while allowed is refused by a worker that does not allow it', async () => {
    const ep = await register('/ssrf-at-delivery');
    const strictWorker = new WebhookWorker(testConfig(t.prefix, { WEBHOOK_RETRY_SCHEDULE: SCHEDULE, WEBHOOK_QUEUE_NAME: 'webhooks-strict' }));
    const { WebhookQueue } = await import('../../src/queue/webhook-queue.js');
    const { Redis } = await import('ioredis');
    const conn = new Redis(testConfig(t.prefix).REDIS_URL, { maxRetriesPerRequest: null });
    const q = new WebhookQueue(conn, { name: 'webhooks-strict', prefix: testQueuePrefix(t.prefix), keyPrefix: t.prefix, scheduleMs: [250] });
    try {
      await q.publish({ tenant: 'default', event: 'completed', type: 'job.completed', data: { id: 'job_x' }, eventKey: 'ssrf-test', at: new Date().toISOString() });
      const d = await waitFor('refused record', async () => (await deliveries(ep.id)).find((x: { status: string }) => x.status === 'failed'));
      expect(d.attempts).toHaveLength(1);
      expect(d.attempts[0].error).toMatch(/target refused: .*127\.0\.0\.1/);
      expect(receiver.on('/ssrf-at-delivery')).toHaveLength(0);
    } finally {
      await q.close();
      conn.disconnect();
      await strictWorker.close();
      await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}` });
    }
  });
});
