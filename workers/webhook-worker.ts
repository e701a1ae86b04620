import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../src/config.js';
import { createRedisClient, type RedisClient } from '../src/queue/connection.js';
import { messageId, WebhookQueue, type WebhookDeliverData, type WebhookEventData, type WebhookJobData } from '../src/queue/webhook-queue.js';
import type { Delivery } from '../src/schemas/webhook.js';
import { DEFAULT_WEBHOOK_EVENTS } from '../src/schemas/webhook.js';
import { keysFor } from '../src/storage/keys.js';
import { defaultEndpointId, WebhookStore } from '../src/storage/webhook-store.js';
import { sendWebhook } from '../src/webhooks/send.js';
import { webhookHeaders } from '../src/webhooks/signature.js';
import { checkWebhookTarget, WebhookTargetError } from '../src/webhooks/target.js';

/** Config the webhook worker reads. */
export type WebhookWorkerConfig = Pick<
  Config,
  'REDIS_URL' | 'QUEUE_PREFIX' | 'KEY_PREFIX' | 'WEBHOOK_QUEUE_NAME' | 'WEBHOOK_CONCURRENCY' | 'WEBHOOK_RETRY_SCHEDULE' | 'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_ALLOW_PRIVATE'
> &
  Partial<Pick<Config, 'REDIS_CLUSTER_NODES'>>;

/** A failed attempt that will be retried after `delayMs` (the schedule's, or the receiver's Retry-After). */
class DeliveryFailedError extends Error {
  override name = 'DeliveryFailedError';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

/** ±10% jitter, so receivers that failed together are not retried together. */
const jitter = (ms: number) => Math.round(ms * (0.9 + 0.2 * Math.random()));

/**
 * Delivers webhooks from the `webhooks` queue, inside the worker process: `event` jobs fan out to
 * the tenant's subscribed endpoints and the job spec's own webhook (one delivery record and one
 * `deliver` job per target, ids derived from the event, so a repeated fan-out adds nothing);
 * `deliver` jobs POST the signed payload (Standard Webhooks headers; webhook-id the same on every
 * attempt). A 2xx succeeds; 410 disables the endpoint; any other answer (3xx included: redirects
 * are not followed), a timeout or a network error is retried on WEBHOOK_RETRY_SCHEDULE, or after
 * the receiver's Retry-After. The target is checked again before each attempt (SSRF).
 */
export class WebhookWorker {
  readonly worker: Worker<WebhookJobData>;
  private readonly connection: RedisClient;
  private readonly storeRedis: RedisClient;
  private readonly queueRedis: RedisClient;
  private readonly queue: WebhookQueue;
  private readonly stores = new Map<string, WebhookStore>();

  constructor(
    private readonly config: WebhookWorkerConfig,
    private readonly log: (obj: object, msg: string) => void = () => {},
  ) {
    this.connection = createRedisClient(config, { name: 'tsnn-webhook-worker', blocking: true });
    this.storeRedis = createRedisClient(config, { name: 'tsnn-webhook-store' });
    this.queueRedis = createRedisClient(config, { name: 'tsnn-webhook-queue' });
    for (const r of [this.connection, this.storeRedis, this.queueRedis]) r.on('error', () => {});
    this.queue = new WebhookQueue(this.queueRedis, { name: config.WEBHOOK_QUEUE_NAME, prefix: config.QUEUE_PREFIX, keyPrefix: config.KEY_PREFIX, scheduleMs: config.WEBHOOK_RETRY_SCHEDULE });
    const schedule = config.WEBHOOK_RETRY_SCHEDULE;
    this.worker = new Worker<WebhookJobData>(config.WEBHOOK_QUEUE_NAME, (job) => this.process(job), {
      connection: this.connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WEBHOOK_CONCURRENCY,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          err instanceof DeliveryFailedError ? err.delayMs : jitter(schedule[Math.min(attemptsMade, schedule.length) - 1] ?? 1000),
      },
    });
    this.worker.on('error', (err) => log({ err: err.message }, 'webhook worker error'));
  }

  private store(keyPrefix: string): WebhookStore {
    let s = this.stores.get(keyPrefix);
    if (!s) this.stores.set(keyPrefix, (s = new WebhookStore(this.storeRedis, keysFor(keyPrefix))));
    return s;
  }

  private async process(job: Job<WebhookJobData>): Promise<void> {
    if (job.data.kind === 'event') return this.fanOut(job.data);
    return this.deliver(job as Job<WebhookDeliverData>);
  }

  private async fanOut(e: WebhookEventData): Promise<void> {
    const store = this.store(e.keyPrefix);
    const targets: { endpointId: string; url: string }[] = (await store.subscribers(e.tenant, e.event)).map((w) => ({ endpointId: w.id, url: w.url }));
    if (e.direct && (e.direct.events ?? DEFAULT_WEBHOOK_EVENTS).includes(e.event)) targets.push({ endpointId: defaultEndpointId(e.tenant), url: e.direct.url });
    const payload = { type: e.type, timestamp: e.at, data: e.data };
    for (const t of targets) {
      const id = messageId(e.eventKey, t.endpointId);
      const known = await store.getDelivery(t.endpointId, id);
      // The same event published again (e.g. by a retried worker) adds nothing once its delivery started.
      if (known && known.attempts.length > 0) continue;
      if (!known)
        await store.saveDelivery({ id, endpointId: t.endpointId, type: e.type, url: t.url, status: 'pending', createdAt: new Date().toISOString(), attempts: [], nextAttemptAt: new Date().toISOString(), payload });
      await this.queue.deliver(t.endpointId, id);
    }
  }

  private async deliver(job: Job<WebhookDeliverData>): Promise<void> {
    const { endpointId, messageId: id } = job.data;
    const store = this.store(job.data.keyPrefix);
    const d = await store.getDelivery(endpointId, id);
    if (!d) return; // endpoint deleted (or the record expired): nothing to send
    const isDefault = endpointId.startsWith('default.');
    const endpoint = isDefault ? null : await store.get(endpointId);
    if (!isDefault && !endpoint) return;
    const started = Date.now();
    const attemptNo = d.attempts.length + 1;
    const record = async (patch: Partial<Delivery>, attempt: Partial<Delivery['attempts'][number]>) => {
      const next: Delivery = { ...d, ...patch, attempts: [...d.attempts, { attempt: attemptNo, at: new Date(started).toISOString(), durationMs: Date.now() - started, ...attempt }] };
      await store.saveDelivery(next);
    };
    if (endpoint?.disabled) {
      await record({ status: 'failed', nextAttemptAt: null }, { error: `endpoint disabled (${endpoint.disabledReason})` });
      throw new UnrecoverableError('endpoint disabled');
    }
    const url = endpoint?.url ?? d.url;
    const secret = endpoint?.secret ?? (await store.defaultSecret(endpointId.slice('default.'.length)));
    const lastTry = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const fail = async (message: string, statusCode: number | undefined, retryAfterMs?: number): Promise<never> => {
      if (lastTry) {
        await record({ status: 'failed', nextAttemptAt: null }, { error: message, ...(statusCode ? { statusCode } : {}) });
        throw new UnrecoverableError(message);
      }
      const delayMs = retryAfterMs ?? jitter(this.config.WEBHOOK_RETRY_SCHEDULE[job.attemptsMade] ?? 1000);
      await record({ status: 'pending', nextAttemptAt: new Date(Date.now() + delayMs).toISOString() }, { error: message, ...(statusCode ? { statusCode } : {}) });
      throw new DeliveryFailedError(message, delayMs);
    };

    let target;
    try {
      target = await checkWebhookTarget(url, this.config.WEBHOOK_ALLOW_PRIVATE);
    } catch (err) {
      if (!(err instanceof WebhookTargetError)) throw err;
      // A refused target (SSRF) is not retried; a name that no longer resolves is.
      if (/does not resolve/.test(err.message)) return fail(`target ${err.message}`, undefined);
      await record({ status: 'failed', nextAttemptAt: null }, { error: `target refused: ${err.message}` });
      throw new UnrecoverableError(`target refused: ${err.message}`);
    }
    const body = JSON.stringify(d.payload);
    let res;
    try {
      res = await sendWebhook(target, webhookHeaders(secret, id, body), body, this.config.WEBHOOK_TIMEOUT_MS);
    } catch (err) {
      return fail((err as Error).message, undefined);
    }
    const { statusCode } = res;
    if (statusCode >= 200 && statusCode < 300) {
      await record({ status: 'succeeded', nextAttemptAt: null }, { statusCode });
      return;
    }
    if (statusCode === 410 && endpoint) {
      await store.disable(endpoint.id, `the receiver answered 410 Gone at ${new Date().toISOString()}`);
      await record({ status: 'failed', nextAttemptAt: null }, { statusCode, error: '410 Gone: endpoint disabled' });
      this.log({ webhookId: endpoint.id }, 'webhook endpoint disabled (410 Gone)');
      throw new UnrecoverableError('410 Gone');
    }
    if (statusCode === 410) {
      await record({ status: 'failed', nextAttemptAt: null }, { statusCode, error: '410 Gone: not retried' });
      throw new UnrecoverableError('410 Gone');
    }
    return fail(statusCode >= 300 && statusCode < 400 ? `redirect ${statusCode} (not followed)` : `HTTP ${statusCode}`, statusCode, res.retryAfterMs);
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    for (const r of [this.storeRedis, this.queueRedis, this.connection]) await r.quit().catch(() => r.disconnect());
  }
}
