import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { createRedisClient, type RedisClient } from '../queue/connection.js';
import { sendProblem } from './problem.js';
import { TrainingQueue } from '../queue/training-queue.js';
import { createBlobStore, type BlobStore } from '../storage/blobs/index.js';
import { WebhookQueue } from '../queue/webhook-queue.js';
import { WebhookStore } from '../storage/webhook-store.js';
import { DatasetStore } from '../storage/dataset-store.js';
import { JobStore } from '../storage/job-store.js';
import { keysFor, type Keys } from '../storage/keys.js';
import { SweepStore } from '../storage/sweep-store.js';
import { sweepBlobs } from '../storage/blob-sweep.js';
import { scripted } from '../storage/scripts.js';

/** Shared services of the API, one set per app instance. */
export interface Services {
  config: Config;
  redis: RedisClient;
  keys: Keys;
  blobs: BlobStore;
  datasets: DatasetStore;
  jobs: JobStore;
  sweeps: SweepStore;
  queue: TrainingQueue;
  webhooks: WebhookStore;
  /** Producer of webhook events and deliveries (workers deliver them). */
  webhookQueue: WebhookQueue;
}

declare module 'fastify' {
  interface FastifyInstance {
    svc: Services;
  }
  interface FastifyRequest {
    /** Owner of what this request creates or reads; `default` until API keys map keys to tenants. */
    tenant: string;
  }
}

/** Decorates the app with `svc` (Redis, stores, queue) and closes them with the app. */
export const servicesPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const redis = createRedisClient(config, { name: 'tsnn-api' });
    redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis connection error'));
    const queueRedis = createRedisClient(config, { name: 'tsnn-api-queue' });
    queueRedis.on('error', (err) => app.log.warn({ err: err.message }, 'redis connection error (queue)'));
    // The submit path sends the job store's creation script and BullMQ's add in one pipeline on this connection.
    scripted(queueRedis);
    const keys = keysFor(config.KEY_PREFIX);
    const blobs = createBlobStore(config);
    const webhookQueue = new WebhookQueue(queueRedis, {
      name: config.WEBHOOK_QUEUE_NAME,
      prefix: config.QUEUE_PREFIX,
      keyPrefix: config.KEY_PREFIX,
      scheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
      onError: (err, what) => app.log.error({ err: err.message }, `${what} could not be queued`),
    });
    const svc: Services = {
      config,
      redis,
      keys,
      blobs,
      datasets: new DatasetStore(redis, keys, blobs),
      jobs: new JobStore(redis, keys, { retentionSeconds: config.JOB_RETENTION_SECONDS, onFinished: (job, tenant) => webhookQueue.jobFinished(job, tenant), blobs, inlineMaxBytes: config.BLOB_INLINE_MAX_BYTES }),
      webhooks: new WebhookStore(redis, keys),
      webhookQueue,
      sweeps: new SweepStore(redis, keys, { retentionSeconds: config.JOB_RETENTION_SECONDS }),
      // BullMQ defines ~40 Lua commands on its connection, and ioredis copies them into every
      // MULTI/pipeline built on it: keep them off the API's command connection.
      queue: new TrainingQueue(queueRedis, {
        name: config.QUEUE_NAME,
        prefix: config.QUEUE_PREFIX,
        attempts: config.JOB_ATTEMPTS,
        keyPrefix: config.KEY_PREFIX,
        backoffMs: config.JOB_BACKOFF_MS,
      }),
    };
    svc.queue.queue.on('error', (err) => app.log.warn({ err: err.message }, 'queue connection error'));
    app.decorate('svc', svc);
    app.decorateRequest('tenant', 'default');
    // While the connection to Redis is down, API routes answer 503 at once instead of waiting for retries.
    app.addHook('onRequest', (req, reply, done) => {
      if (req.url.startsWith('/v1/') && ['reconnecting', 'end', 'close'].includes(redis.status)) {
        reply.header('retry-after', '2');
        sendProblem(reply, req, 503, { code: 'redis_unavailable', detail: 'Redis is unreachable; retry later' });
        return;
      }
      done();
    });
    // The orphan-blob sweep (blob-sweep.ts): blobs no record references, e.g. of jobs whose
    // record expired (retention) or of an upload killed between its blob and its record.
    let sweeping: Promise<unknown> | null = null;
    const sweeper =
      config.BLOB_SWEEP_MS > 0
        ? setInterval(() => {
            if (sweeping) return;
            sweeping = sweepBlobs(redis, keys, blobs, { graceMs: config.BLOB_ORPHAN_GRACE_MS })
              .then((r) => r.deleted.length > 0 && app.log.info({ deleted: r.deleted.length, scanned: r.scanned }, 'orphan blobs deleted'))
              .catch((err: Error) => app.log.warn({ err: err.message }, 'orphan blob sweep failed'))
              .finally(() => (sweeping = null));
          }, config.BLOB_SWEEP_MS).unref()
        : undefined;
    app.addHook('onClose', async () => {
      clearInterval(sweeper);
      await sweeping;
      await svc.queue.close();
      await webhookQueue.close();
      await queueRedis.quit().catch(() => queueRedis.disconnect());
      await redis.quit().catch(() => redis.disconnect());
      await blobs.close();
    });
  },
  { name: 'services' },
);
