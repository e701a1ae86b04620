/**
 * API keys. `API_KEYS` maps keys to tenants; every `/v1` route then needs
 * `Authorization: Bearer <key>` and the request runs as the key's tenant. Keys are kept only as
 * SHA-256 digests and compared in constant time; with no keys the API is open (tenant `default`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from './problem.js';

/** One configured key: its SHA-256 digest, its tenant and a short non-secret id for logs and limits. */
export interface ApiKeyEntry {
  digest: Buffer;
  tenant: string;
  /** First 8 hex digits of the digest: names the key in logs and rate-limit buckets without revealing it. */
  keyId: string;
}

/** Raised at start-up when `API_KEYS` does not parse. */
export class ApiKeysConfigError extends Error {
  override name = 'ApiKeysConfigError';
}

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Parses `API_KEYS`: comma-separated `key:tenant` entries, or `sha256:<64 hex digits>:tenant` to
 * keep only the key's digest in the environment. Keys are at least 16 characters; tenants are
 * `[A-Za-z0-9_-]{1,64}` (they appear in Redis key names).
 */
export function parseApiKeys(spec: string | undefined): ApiKeyEntry[] {
  if (!spec || spec.trim() === '') return [];
  const entries: ApiKeyEntry[] = [];
  for (const [i, raw] of spec.split(',').entries()) {
    const item = raw.trim();
    if (item === '') continue;
    const colon = item.lastIndexOf(':');
    if (colon <= 0) throw new ApiKeysConfigError(`API_KEYS entry ${i + 1}: expected key:tenant`);
    const keyPart = item.slice(0, colon);
    const tenant = item.slice(colon + 1);
    if (!TENANT.test(tenant)) throw new ApiKeysConfigError(`API_KEYS entry ${i + 1}: tenant must match [A-Za-z0-9_-]{1,64}`);
    let digest: Buffer;
    const hashed = /^sha256:([0-9a-fA-F]{64})$/.exec(keyPart);
    if (hashed) digest = Buffer.from(hashed[1], 'hex');
    else if (keyPart.length < 16) throw new ApiKeysConfigError(`API_KEYS entry ${i + 1}: keys need at least 16 characters`);
    else digest = sha256(keyPart);
    if (entries.some((e) => e.digest.equals(digest))) throw new ApiKeysConfigError(`API_KEYS entry ${i + 1}: the same key appears twice`);
    entries.push({ digest, tenant, keyId: digest.toString('hex').slice(0, 8) });
  }
  return entries;
}

/** The key entry of `presented`, comparing its digest with every configured one (no early exit). */
export function matchApiKey(entries: readonly ApiKeyEntry[], presented: string): ApiKeyEntry | undefined {
  const d = sha256(presented);
  let found: ApiKeyEntry | undefined;
  for (const e of entries) if (timingSafeEqual(e.digest, d) && !found) found = e;
  return found;
}

/** The Bearer token of a request, or undefined. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(h);
  return m?.[1];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Refuses (401) a request without a valid API key when keys are configured; sets `request.tenant`. */
    authenticate: (req: FastifyRequest, reply: FastifyReply) => unknown;
    /** True when `API_KEYS` is set. */
    apiKeysEnabled: boolean;
  }
  interface FastifyRequest {
    /** Short id of the request's API key (`undefined` when open or unauthenticated). */
    apiKeyId?: string;
  }
}

/** Sends the 401 itself (not thrown: Bull Board's routes have an error handler of their own that would make it a 500). */
const refuse = (req: FastifyRequest, reply: FastifyReply, detail: string) => {
  // a page guard (Bull Board) may already ask for Basic credentials: keep its challenge
  if (!reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer realm="trainer"');
  return sendProblem(reply, req, 401, { code: 'unauthorized', detail });
};

/** Resolves the request's key once (rate limits may ask before the guard runs); null when absent or wrong. */
export function resolveKey(entries: readonly ApiKeyEntry[], req: FastifyRequest): ApiKeyEntry | null {
  const cache = req as unknown as { [RESOLVED]?: ApiKeyEntry | null };
  if (cache[RESOLVED] !== undefined) return cache[RESOLVED];
  const token = bearerToken(req);
  const entry = token ? (matchApiKey(entries, token) ?? null) : null;
  cache[RESOLVED] = entry;
  return entry;
}
const RESOLVED = Symbol('apiKey');

/** A `/v1` request: by its route pattern, or by its path when no route matched (so unknown paths can't be probed). */
export const isV1 = (req: FastifyRequest) => {
  const path = req.routeOptions.url ?? req.url;
  return path === '/v1' || path.startsWith('/v1/') || req.url.startsWith('/v1/') || req.url.startsWith('/v1?');
};

/**
 * Decorates the app with `authenticate` (the guard the ops plugin looks for) and, when keys are
 * configured, runs it on every `/v1` request (unknown `/v1` paths too, so routes can't be probed).
 */
export const authPlugin = fp(
  async (app: FastifyInstance, opts: { apiKeys?: string }) => {
    const entries = parseApiKeys(opts.apiKeys);
    const enabled = entries.length > 0;
    app.decorate('apiKeysEnabled', enabled);
    app.decorateRequest('apiKeyId', undefined);
    app.decorate('authenticate', async function authenticate(req: FastifyRequest, reply: FastifyReply) {
      if (!enabled) return;
      if (req.headers.authorization === undefined) return refuse(req, reply, 'send Authorization: Bearer <API key>');
      const entry = resolveKey(entries, req);
      if (!entry) return refuse(req, reply, 'the API key is not valid; send Authorization: Bearer <API key>');
      req.tenant = entry.tenant;
      req.apiKeyId = entry.keyId;
    });
    if (enabled) {
      app.log.info({ keys: entries.length, tenants: [...new Set(entries.map((e) => e.tenant))].length }, 'API keys required on /v1');
      // preParsing: after the rate limit (route onRequest, keyed by IP for a wrong key, so guessing keys is
      // rate-limited) and before any body is parsed for a request without a valid key
      app.addHook('preParsing', async (req, reply, payload) => {
        if (!isV1(req)) return payload;
        await app.authenticate(req, reply);
        return reply.sent ? reply : payload;
      });
    } else {
      app.log.warn('API_KEYS is not set: the API is open to anyone who can reach it (tenant "default"); set API_KEYS before exposing it');
    }
  },
  { name: 'api-keys', dependencies: ['services'] },
);
