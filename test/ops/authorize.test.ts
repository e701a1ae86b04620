/**
 * The ops routes behind a guard: Bearer for /metrics, Bearer or Basic (key as password) for
 * Bull Board, and the app's own `authenticate` decorator picked up when present.
 */
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opsPlugin } from '../../src/ops/plugin.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor } from '../../src/storage/keys.js';
import { deletePrefix } from '../helpers/redis.js';

const prefix = `t7auth${process.pid.toString(36)}${Date.now().toString(36)}`;
const KEY = 's3cret-key';
let redis: Redis;
let queue: Queue;

/** A guard like an API-key plugin's: 401 problem unless `Authorization: Bearer <KEY>`. */
function guard(req: FastifyRequest, reply: FastifyReply) {
  if (req.headers.authorization !== `Bearer ${KEY}`) return reply.code(401).type('application/problem+json').send({ status: 401, title: 'Unauthorized' });
}

async function appWith(opts: { decorate?: boolean; authorize?: boolean }): Promise<FastifyInstance> {
  const app = Fastify();
  if (opts.decorate) app.decorate('authenticate', guard);
  const keys = keysFor(`${prefix}:`);
  await app.register(opsPlugin, {
    queue,
    redis,
    jobs: new JobStore(redis, keys),
    jobEventsKey: keys.jobEvents,
    jobOutcomesKey: keys.jobOutcomes(),
    authorize: opts.authorize ? guard : undefined,
    defaultMetrics: false,
    tailJobEvents: false,
  });
  await app.ready();
  return app;
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

beforeAll(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  queue = new Queue('training', { connection: redis, prefix });
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await deletePrefix(`${prefix}:`);
});

describe('ops routes behind the API keys', () => {
  it('with an authorize option: /metrics needs the Bearer key; Bull Board asks browsers for Basic credentials', async () => {
    const app = await appWith({ authorize: true });
    try {
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(401);
      const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${KEY}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('trainer_queue_jobs{state="waiting"} 0');

      const ask = await app.inject({ url: '/admin/queues' });
      expect(ask.statusCode).toBe(401);
      expect(ask.headers['www-authenticate']).toMatch(/^Basic realm=/);
      expect((await app.inject({ url: '/admin/queues', headers: { authorization: basic('me', 'wrong') } })).statusCode).toBe(401);
      const page = await app.inject({ url: '/admin/queues', headers: { authorization: basic('me', KEY) } });
      expect(page.statusCode).toBe(200);
      expect(page.headers['www-authenticate']).toBeUndefined();
      const apiRes = await app.inject({ url: '/admin/queues/api/queues', headers: { authorization: `Bearer ${KEY}` } });
      expect(apiRes.statusCode).toBe(200);
      expect(apiRes.json().queues.map((q: { name: string }) => q.name)).toEqual(['training']);
    } finally {
      await app.close();
    }
  });

  it("uses the app's authenticate decorator when no authorize option is given", async () => {
    const app = await appWith({ decorate: true });
    try {
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(401);
      expect((await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
      expect((await app.inject({ url: '/admin/queues/api/queues' })).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('finds a decorator added after the ops plugin (an API-key plugin registered later)', async () => {
    const app = Fastify();
    const keys = keysFor(`${prefix}:`);
    await app.register(opsPlugin, { queue, redis, jobs: new JobStore(redis, keys), jobEventsKey: keys.jobEvents, jobOutcomesKey: keys.jobOutcomes(), defaultMetrics: false, tailJobEvents: false });
    app.decorate('authenticate', guard);
    await app.ready();
    try {
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(401);
      expect((await app.inject({ url: '/admin/queues', headers: { authorization: basic('u', KEY) } })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('is open when no guard exists (API keys not configured)', async () => {
    const app = await appWith({});
    try {
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/admin/queues' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
