/*
 * The floor `npm run bench:submit` compares `POST /v1/jobs` with: the thinnest Fastify + BullMQ
 * service, which parses the JSON body (Fastify's own parser, no schema) and calls `queue.add`
 * with it, answering 202 with BullMQ's job id. Same Fastify, BullMQ, ioredis and Redis as the API.
 * Env: PORT, REDIS_URL, QUEUE_PREFIX. Prints nothing; GET /healthz answers once the queue is ready.
 */
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = new Queue('training', { connection, prefix: process.env.QUEUE_PREFIX ?? 'bare' });
await queue.waitUntilReady();
const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ ok: true }));
app.post('/v1/jobs', async (req, reply) => {
  const job = await queue.add('train', req.body as object);
  return reply.code(202).send({ id: job.id });
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const stop = async () => {
  await app.close();
  await queue.close();
  connection.disconnect();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
