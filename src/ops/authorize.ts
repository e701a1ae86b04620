/**
 * The guard of the operations routes. API keys are optional in this service: when the app has
 * an `authenticate` decorator (added by the API-key plugin), ops routes use it; otherwise they
 * are open, like every route. Browsers can't send a Bearer header when opening Bull Board, so
 * HTTP Basic credentials (any user name, the API key as password) are accepted as the key.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** A guard: resolve to let the request through, or send (or throw) a 401/403. */
export type Authorize = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | unknown;

/** As an async onRequest hook: returns the reply when the guard already answered, so Fastify stops there. */
export function asHook(guard: Authorize) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    await guard(req, reply);
    if (reply.sent) return reply;
  };
}

/** The app's own guard, when an auth plugin decorated one. */
export function appAuthorize(app: FastifyInstance): Authorize | undefined {
  const a = app as unknown as Record<string, unknown>;
  for (const name of ['authenticate', 'authorize', 'verifyApiKey']) {
    if (app.hasDecorator(name) && typeof a[name] === 'function') {
      const fn = a[name] as (req: FastifyRequest, reply: FastifyReply) => unknown;
      return (req, reply) => fn.call(app, req, reply);
    }
  }
  return undefined;
}

/** `Basic base64(user:key)` → `Bearer key`, so the API-key guard can check it. */
export function basicToBearer(req: FastifyRequest): void {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = colon >= 0 ? decoded.slice(colon + 1) : decoded;
  if (key) req.headers.authorization = `Bearer ${key}`;
}

/**
 * Wraps a guard for browser pages: accepts Basic credentials and, on 401, asks the browser
 * for them (`WWW-Authenticate: Basic`), so Bull Board works behind API keys.
 */
export function browserGuard(guard: Authorize, realm = 'trainer operations') {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    basicToBearer(req);
    reply.header('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    await guard(req, reply);
    if (reply.sent) return reply;
    reply.removeHeader('www-authenticate');
  };
}
