import { z } from 'zod';

/** What a webhook may be sent for; the payload `type` is `job.<event>` (`sweep.<event>` for sweeps). */
export const WEBHOOK_EVENTS = ['completed', 'failed', 'cancelled', 'pruned', 'progress'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** Registered endpoints take job endings only: `progress` is for a job's own webhook. */
export const ENDPOINT_EVENTS = ['completed', 'failed', 'cancelled', 'pruned'] as const;
/** Events of a webhook that names none. */
export const DEFAULT_WEBHOOK_EVENTS: WebhookEvent[] = ['completed', 'failed', 'cancelled'];

const url = z.string().min(1).max(2048).describe('http(s) URL; loopback, private and link-local hosts are refused unless WEBHOOK_ALLOW_PRIVATE=true');
const events = z
  .array(z.enum(ENDPOINT_EVENTS))
  .min(1)
  .max(ENDPOINT_EVENTS.length)
  .describe('Job endings to send. Default completed, failed, cancelled');
const jobEvents = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1)
  .max(WEBHOOK_EVENTS.length)
  .describe('Events to send: job endings, and `progress` (an epoch end, at most one per WEBHOOK_PROGRESS_INTERVAL_MS). Default completed, failed, cancelled');

/** `webhook` of a job spec: signed with the tenant's default secret (`GET /v1/webhooks/default/secret`). */
export const JobWebhookSchema = z.strictObject({ url, events: jobEvents.optional() }).meta({ id: 'JobWebhook' });
export type JobWebhook = z.infer<typeof JobWebhookSchema>;

export const WebhookCreateSchema = z
  .strictObject({ url, events: events.optional(), description: z.string().max(200).optional() })
  .meta({ id: 'WebhookCreate' });
export type WebhookCreate = z.infer<typeof WebhookCreateSchema>;

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(ENDPOINT_EVENTS)),
    description: z.string().optional(),
    createdAt: z.string(),
    disabled: z.boolean().describe('true once the receiver answered 410 Gone: nothing more is sent to it'),
    disabledAt: z.string().optional(),
    disabledReason: z.string().optional(),
  })
  .meta({ id: 'Webhook' });
export type Webhook = z.infer<typeof WebhookSchema>;

export const WebhookCreatedSchema = WebhookSchema.extend({
  secret: z.string().describe('`whsec_…` signing secret; shown only in this response'),
}).meta({ id: 'WebhookCreated' });

export const WebhookListSchema = z.object({ items: z.array(WebhookSchema) }).meta({ id: 'WebhookList' });

export const WebhookSecretSchema = z
  .object({ secret: z.string().describe('`whsec_…` secret that signs the webhooks of job specs (`webhook` field)') })
  .meta({ id: 'WebhookSecret' });

export const DeliveryAttemptSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  statusCode: z.number().int().optional().describe('HTTP status the receiver answered'),
  error: z.string().optional().describe('Why the attempt failed without a 2xx (timeout, connection refused, redirect, refused target…)'),
  durationMs: z.number(),
});

export const DeliverySchema = z
  .object({
    id: z.string().describe('The `webhook-id` header: the same on every attempt (the receiver\'s idempotency key)'),
    endpointId: z.string(),
    type: z.string().describe('e.g. job.completed'),
    url: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    createdAt: z.string(),
    attempts: z.array(DeliveryAttemptSchema),
    nextAttemptAt: z.string().nullable().describe('When the next retry is due (null: none)'),
    payload: z.object({ type: z.string(), timestamp: z.string(), data: z.record(z.string(), z.unknown()) }),
  })
  .meta({ id: 'WebhookDelivery' });
export type Delivery = z.infer<typeof DeliverySchema>;

export const DeliveryListSchema = z.object({ items: z.array(DeliverySchema) }).meta({ id: 'WebhookDeliveryList' });

export const WebhookParamsSchema = z.strictObject({
  id: z.string().min(1).max(200).describe('Endpoint id (`whk_…`), or `default` for the webhooks of job specs'),
});
export const DeliveryParamsSchema = z.strictObject({
  id: z.string().min(1).max(200),
  deliveryId: z.string().min(1).max(64),
});
