import { createHash } from 'node:crypto';
import type { RedisClient } from '../queue/connection.js';
import type { Keys } from './keys.js';

/** JSON with object keys sorted, so equal bodies hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const bodyHash = (body: unknown): string => createHash('sha256').update(canonicalJson(body)).digest('hex');

/** Outcome of {@link claimIdempotencyKey}. */
export type IdempotencyClaim =
  | { kind: 'new' }
  | { kind: 'replay'; resourceId: string }
  | { kind: 'conflict' };

/**
 * Claims `key` for `resourceId` (SET NX with a TTL). When already claimed: the same body hash
 * replays the first resource, a different body is a conflict.
 */
export async function claimIdempotencyKey(
  redis: RedisClient,
  keys: Keys,
  p: { tenant: string; scope: string; key: string; hash: string; resourceId: string; ttlSeconds: number },
): Promise<IdempotencyClaim> {
  const k = keys.idempotency(p.tenant, p.scope, p.key);
  const set = await redis.set(k, `${p.hash} ${p.resourceId}`, 'EX', p.ttlSeconds, 'NX');
  if (set === 'OK') return { kind: 'new' };
  const existing = await redis.get(k);
  if (!existing) return claimIdempotencyKey(redis, keys, p); // expired in between
  const [hash, resourceId] = existing.split(' ');
  return hash === p.hash ? { kind: 'replay', resourceId } : { kind: 'conflict' };
}

/**
 * Gives back a key claimed for `resourceId` that was not created after all (only while it still
 * names that resource), so the same key can be used again.
 */
export async function releaseIdempotencyKey(redis: RedisClient, keys: Keys, p: { tenant: string; scope: string; key: string; resourceId: string }): Promise<void> {
  const k = keys.idempotency(p.tenant, p.scope, p.key);
  const v = await redis.get(k);
  if (v?.endsWith(` ${p.resourceId}`)) await redis.del(k);
}
