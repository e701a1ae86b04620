import { DEFAULT_WEBHOOK_EVENTS, type Delivery, type Webhook, type WebhookCreate, type WebhookEvent } from '../schemas/webhook.js';
import { newWebhookSecret } from '../webhooks/signature.js';
import { newId } from './ids.js';
import type { Keys } from './keys.js';
import type { RedisClient } from '../queue/connection.js';

/** A stored endpoint: what the API shows plus its owner and secret. */
export interface StoredWebhook extends Webhook {
  tenant: string;
  secret: string;
}

/** Deliveries kept per endpoint (newest), and for how long. */
const DELIVERIES_KEPT = 500;
const DELIVERY_TTL_SECONDS = 7 * 24 * 3600;

/** The pseudo-endpoint whose deliveries are the webhooks of a tenant's job specs. */
export const defaultEndpointId = (tenant: string) => `default.${tenant}`;

function toWebhook(h: Record<string, string>): StoredWebhook {
  return {
    id: h.id,
    tenant: h.tenant,
    secret: h.secret,
    url: h.url,
    events: JSON.parse(h.events) as Webhook['events'],
    ...(h.description ? { description: h.description } : {}),
    createdAt: h.createdAt,
    disabled: Boolean(h.disabledAt),
    ...(h.disabledAt ? { disabledAt: h.disabledAt, disabledReason: h.disabledReason } : {}),
  };
}

/** Public view of an endpoint (no tenant, no secret). */
export function publicWebhook(w: StoredWebhook): Webhook {
  const { tenant: _t, secret: _s, ...rest } = w;
  return rest;
}

/**
 * Webhook endpoints (a hash per endpoint, an index per tenant) and their deliveries (a JSON
 * record per message and a sorted set per endpoint, all under the endpoint's hash tag).
 */
export class WebhookStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async create(tenant: string, body: WebhookCreate): Promise<StoredWebhook> {
    const id = newId('whk');
    const fields: Record<string, string> = {
      id,
      tenant,
      url: body.url,
      events: JSON.stringify(body.events ?? DEFAULT_WEBHOOK_EVENTS),
      secret: newWebhookSecret(),
      createdAt: new Date().toISOString(),
      ...(body.description ? { description: body.description } : {}),
    };
    // Two slots (endpoint, tenant index): two steps; an index entry without a record is dropped when listed.
    await this.redis.hset(this.keys.webhook(id), fields);
    await this.redis.zadd(this.keys.webhookIndex(tenant), 0, id);
    return toWebhook(fields);
  }

  async count(tenant: string): Promise<number> {
    return this.redis.zcard(this.keys.webhookIndex(tenant));
  }

  /** The endpoint `id` of `tenant` (`undefined`: any tenant), or null. */
  async get(id: string, tenant?: string): Promise<StoredWebhook | null> {
    const h = await this.redis.hgetall(this.keys.webhook(id));
    if (!h.id || !h.url || (tenant !== undefined && h.tenant !== tenant)) return null;
    return toWebhook(h);
  }

  /** The tenant's registered endpoints, newest first. */
  async list(tenant: string): Promise<StoredWebhook[]> {
    const ids = await this.redis.zrevrangebylex(this.keys.webhookIndex(tenant), '+', '-');
    const out: StoredWebhook[] = [];
    for (const id of ids) {
      const w = await this.get(id, tenant);
      if (w) out.push(w);
      else await this.redis.zrem(this.keys.webhookIndex(tenant), id);
    }
    return out;
  }

  /** Deletes the endpoint and its deliveries; false when it is not the tenant's. */
  async delete(id: string, tenant: string): Promise<boolean> {
    if (!(await this.get(id, tenant))) return false;
    const ids = await this.redis.zrange(this.keys.webhookDeliveries(id), '0', '-1');
    await this.redis.unlink(this.keys.webhook(id), this.keys.webhookDeliveries(id), ...ids.map((m) => this.keys.webhookDelivery(id, m)));
    await this.redis.zrem(this.keys.webhookIndex(tenant), id);
    return true;
  }

  /** Stops deliveries to the endpoint (its receiver answered 410 Gone). */
  async disable(id: string, reason: string): Promise<void> {
    if (await this.redis.exists(this.keys.webhook(id))) await this.redis.hset(this.keys.webhook(id), 'disabledAt', new Date().toISOString(), 'disabledReason', reason);
  }

  /** The secret that signs the tenant's job-spec webhooks, created on first use. */
  async defaultSecret(tenant: string): Promise<string> {
    const key = this.keys.webhook(defaultEndpointId(tenant));
    await this.redis.hsetnx(key, 'secret', newWebhookSecret());
    return (await this.redis.hget(key, 'secret'))!;
  }

  /** Registered, enabled endpoints of `tenant` that subscribe to `event`. */
  async subscribers(tenant: string, event: WebhookEvent): Promise<StoredWebhook[]> {
    return (await this.list(tenant)).filter((w) => !w.disabled && (w.events as readonly WebhookEvent[]).includes(event));
  }

  /** Writes (creates or replaces) a delivery record; new ones enter the endpoint's list, which keeps the newest {@link DELIVERIES_KEPT}. */
  async saveDelivery(d: Delivery): Promise<void> {
    const k = this.keys;
    const list = k.webhookDeliveries(d.endpointId);
    await this.redis
      .multi()
      .set(k.webhookDelivery(d.endpointId, d.id), JSON.stringify(d), 'EX', DELIVERY_TTL_SECONDS)
      .zadd(list, 'NX', Date.parse(d.createdAt), d.id)
      .expire(list, DELIVERY_TTL_SECONDS)
      .exec();
    const extra = (await this.redis.zcard(list)) - DELIVERIES_KEPT;
    if (extra > 0) {
      const old = await this.redis.zrange(list, '0', String(extra - 1));
      await this.redis.multi().zrem(list, ...old).unlink(...old.map((m) => k.webhookDelivery(d.endpointId, m))).exec();
    }
  }

  async getDelivery(endpointId: string, id: string): Promise<Delivery | null> {
    const s = await this.redis.get(this.keys.webhookDelivery(endpointId, id));
    return s ? (JSON.parse(s) as Delivery) : null;
  }

  /** Newest first, at most `limit`. */
  async listDeliveries(endpointId: string, limit = 100): Promise<Delivery[]> {
    const ids = await this.redis.zrevrange(this.keys.webhookDeliveries(endpointId), 0, limit - 1);
    if (ids.length === 0) return [];
    const rows = await this.redis.mget(ids.map((m) => this.keys.webhookDelivery(endpointId, m)));
    return rows.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Delivery);
  }
}
