import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Job } from '../schemas/job.js';
import type { SweepMeta } from '../storage/sweep-store.js';
import type { JobWebhook, WebhookEvent } from '../schemas/webhook.js';
import type { RedisClient } from './connection.js';

/** An event to fan out to a tenant's endpoints (and to the job spec's own webhook, `direct`). */
export interface WebhookEventData {
  kind: 'event';
  keyPrefix: string;
  tenant: string;
  event: WebhookEvent;
  /** Payload `type` (e.g. `job.completed`). */
  type: string;
  data: Record<string, unknown>;
  /** The `webhook` of the job spec, if any. */
  direct?: JobWebhook;
  /** Unique per event: message ids derive from it, so a repeated fan-out creates no duplicates. */
  eventKey: string;
  /** Event time (ISO), the payload's `timestamp`. */
  at: string;
}

/** One message to one endpoint: its record (`WebhookStore`) holds body, URL and attempts. */
export interface WebhookDeliverData {
  kind: 'deliver';
  keyPrefix: string;
  endpointId: string;
  messageId: string;
}

export type WebhookJobData = WebhookEventData | WebhookDeliverData;

/** Options of {@link WebhookQueue}. */
export interface WebhookQueueOptions {
  /** Queue name. Default `webhooks`. */
  name?: string;
  /** BullMQ key prefix (hash-tagged on a cluster). Default `{bull}`. */
  prefix?: string;
  /** Our key prefix, copied into each job's data. */
  keyPrefix: string;
  /** Delays between delivery attempts (WEBHOOK_RETRY_SCHEDULE); attempts = length + 1. */
  scheduleMs: number[];
  /** Called when an event could not be queued (the caller's work goes on). */
  onError?: (err: Error, what: string) => void;
}

/** A message id derived from the event and the endpoint: the same on a repeated fan-out. */
export function messageId(eventKey: string, endpointId: string): string {
  return `msg_${createHash('sha256').update(`${eventKey}|${endpointId}`).digest('hex').slice(0, 24)}`;
}

/** The small `data` of a job event: what a receiver needs to act, not the whole record. */
export function jobEventData(job: Job): Record<string, unknown> {
  const r = job.result;
  return {
    id: job.id,
    status: job.status,
    datasetId: job.datasetId,
    ...(r ? { result: { loss: r.loss, valLoss: r.valLoss, accuracy: r.accuracy, valAccuracy: r.valAccuracy, epochsRun: r.epochsRun, weightsHash: r.weightsHash } } : {}),
    ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
  };
}

/** The producer side of the webhook queue: events to fan out, deliveries to (re)send. */
export class WebhookQueue {
  readonly queue: Queue<WebhookJobData>;
  readonly attempts: number;

  constructor(
    connection: RedisClient,
    private readonly opts: WebhookQueueOptions,
  ) {
    this.queue = new Queue<WebhookJobData>(opts.name ?? 'webhooks', { connection, prefix: opts.prefix ?? '{bull}' });
    this.attempts = opts.scheduleMs.length + 1;
  }

  /** Queues an event once per `eventKey` (a second publish of the same key is a no-op). `keyPrefix` defaults to the queue's. */
  async publish(e: Omit<WebhookEventData, 'kind' | 'keyPrefix'> & { keyPrefix?: string }): Promise<void> {
    await this.queue.add('event', { kind: 'event', keyPrefix: this.opts.keyPrefix, ...e }, {
      jobId: `evt.${createHash('sha256').update(e.eventKey).digest('hex').slice(0, 32)}`,
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    });
  }

  /** A job reached a terminal status: `job.<status>` to its spec's webhook and the tenant's endpoints. Never throws. */
  async jobFinished(job: Job, tenant: string): Promise<void> {
    await this.publish({
      tenant,
      event: job.status as WebhookEvent,
      type: `job.${job.status}`,
      data: jobEventData(job),
      ...(job.webhook ? { direct: job.webhook } : {}),
      eventKey: `${job.id}.${job.status}`,
      at: job.finishedAt ?? new Date().toISOString(),
    }).catch((err: Error) => this.opts.onError?.(err, `webhook event job.${job.status} of ${job.id}`));
  }

  /** An epoch of job `jobId` ended: `job.progress` to the job's own webhook (when it asks for `progress`). Never throws. */
  async jobProgress(jobId: string, tenant: string, webhook: JobWebhook, p: { epoch: number; epochs: number; loss: number; valLoss?: number; accuracy?: number; valAccuracy?: number }, keyPrefix?: string): Promise<void> {
    await this.publish({
      tenant,
      event: 'progress',
      type: 'job.progress',
      data: { id: jobId, status: 'running', ...p },
      direct: webhook,
      eventKey: `${jobId}.progress.${p.epoch}`,
      at: new Date().toISOString(),
      ...(keyPrefix ? { keyPrefix } : {}),
    }).catch((err: Error) => this.opts.onError?.(err, `webhook event job.progress of ${jobId}`));
  }

  /** A sweep ended: `sweep.completed` or `sweep.cancelled` to its spec's webhook and the tenant's endpoints subscribed to that status. Never throws. */
  async sweepEnded(sweep: SweepMeta, keyPrefix?: string): Promise<void> {
    const status = sweep.status === 'cancelled' ? 'cancelled' : 'completed';
    await this.publish({
      tenant: sweep.tenant,
      event: status,
      type: `sweep.${status}`,
      data: { id: sweep.id, status: sweep.status, datasetId: sweep.datasetId, trialCount: sweep.trialCount, best: sweep.best, ...(sweep.finishedAt ? { finishedAt: sweep.finishedAt } : {}) },
      ...(sweep.spec.webhook ? { direct: sweep.spec.webhook } : {}),
      eventKey: `${sweep.id}.${status}`,
      at: sweep.finishedAt ?? new Date().toISOString(),
      ...(keyPrefix ? { keyPrefix } : {}),
    }).catch((err: Error) => this.opts.onError?.(err, `webhook event sweep.${status} of ${sweep.id}`));
  }

  /** Queues one delivery attempt series (`jobId` defaults to the message id: added once). */
  async deliver(endpointId: string, messageId: string, jobId = messageId): Promise<void> {
    await this.queue.add('deliver', { kind: 'deliver', keyPrefix: this.opts.keyPrefix, endpointId, messageId }, {
      jobId,
      attempts: this.attempts,
      backoff: { type: 'webhook' },
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
