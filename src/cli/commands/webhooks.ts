/** `webhooks create|list|get|delete|deliveries|redeliver|secret` and `jobs checkpoints`. */
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, printJson, table } from '../output.js';
import { UsageError } from '../spec-flags.js';

const enc = encodeURIComponent;
const EVENTS = ['completed', 'failed', 'cancelled', 'pruned'];

interface Webhook {
  id: string;
  url: string;
  events: string[];
  disabled: boolean;
  createdAt: string;
  secret?: string;
  disabledReason?: string;
}
interface Delivery {
  id: string;
  type: string;
  status: string;
  createdAt: string;
  attempts: { statusCode?: number; error?: string }[];
  nextAttemptAt: string | null;
}

export async function createWebhook(api: ApiClient, io: Io, g: GlobalOptions, url: string, events?: string, description?: string): Promise<number> {
  const list = events?.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = list?.find((e) => !EVENTS.includes(e));
  if (bad) throw new UsageError(`--events: unknown event "${bad}" (one of ${EVENTS.join(', ')})`);
  const w = await api.post<Webhook>('/v1/webhooks', { url, ...(list ? { events: list } : {}), ...(description ? { description } : {}) });
  if (g.json) printJson(io, w);
  else {
    io.out.write(`${w.id}\t${w.url}\t${w.events.join(',')}\n`);
    io.err.write(`signing secret (shown once, keep it): ${w.secret}\n`);
  }
  return 0;
}

export async function listWebhooks(api: ApiClient, io: Io, g: GlobalOptions): Promise<number> {
  const { items } = await api.get<{ items: Webhook[] }>('/v1/webhooks');
  if (g.json) printJson(io, items);
  else io.out.write(table(items, { id: (w) => w.id, url: (w) => w.url, events: (w) => w.events.join(','), state: (w) => (w.disabled ? `disabled (${w.disabledReason})` : 'enabled'), created: (w) => w.createdAt }));
  return 0;
}

export async function deleteWebhook(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  await api.request('DELETE', `/v1/webhooks/${enc(id)}`, { as: 'text' });
  if (g.json) printJson(io, { id, deleted: true });
  else io.err.write(`deleted ${id}\n`);
  return 0;
}

export async function webhookSecret(api: ApiClient, io: Io, g: GlobalOptions): Promise<number> {
  const s = await api.get<{ secret: string }>('/v1/webhooks/default/secret');
  if (g.json) printJson(io, s);
  else io.out.write(`${s.secret}\n`);
  return 0;
}

export async function listDeliveries(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  const { items } = await api.get<{ items: Delivery[] }>(`/v1/webhooks/${enc(id)}/deliveries`);
  if (g.json) printJson(io, items);
  else
    io.out.write(
      table(items, {
        id: (d) => d.id,
        type: (d) => d.type,
        status: (d) => d.status,
        attempts: (d) => d.attempts.map((a) => a.statusCode ?? 'err').join(',') || '-',
        'last error': (d) => d.attempts.at(-1)?.error,
        'next retry': (d) => d.nextAttemptAt,
      }),
    );
  return 0;
}

export async function redeliver(api: ApiClient, io: Io, g: GlobalOptions, id: string, deliveryId: string): Promise<number> {
  const d = await api.post<Delivery>(`/v1/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`);
  if (g.json) printJson(io, d);
  else io.err.write(`${d.id} queued again\n`);
  return 0;
}

export async function listCheckpoints(api: ApiClient, io: Io, g: GlobalOptions, jobId: string): Promise<number> {
  const res = await api.get<{ items: { epoch: number; loss: number; valLoss?: number; valAccuracy?: number; bytes: number; best: boolean }[] }>(`/v1/jobs/${enc(jobId)}/checkpoints`);
  if (g.json) printJson(io, res);
  else
    io.out.write(
      table(res.items, {
        epoch: (k) => k.epoch,
        loss: (k) => k.loss.toPrecision(4),
        'val loss': (k) => k.valLoss?.toPrecision(4),
        'val acc': (k) => k.valAccuracy?.toFixed(4),
        bytes: (k) => k.bytes,
        best: (k) => (k.best ? '*' : ''),
      }),
    );
  return 0;
}
