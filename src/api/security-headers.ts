import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

/** Headers helmet sets with `options`, and the ones it removes (`x-powered-by`). */
export interface StaticHeaders {
  set: Record<string, string>;
  removed: string[];
}

/**
 * Runs helmet's middleware once against a recording response and returns what it did. Without
 * CSP nonces every response gets the same headers, so there is nothing to recompute per request
 * (`@fastify/helmet` builds a new helmet middleware, CSP parsing included, on every request).
 */
export function helmetHeaders(options: HelmetOptions): StaticHeaders {
  const out: StaticHeaders = { set: {}, removed: [] };
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      out.set[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      out.removed.push(name.toLowerCase());
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return out;
}

/** Sets helmet's headers (computed once from `options`) on every response, as an onRequest hook. */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance, options: HelmetOptions) => {
    const { set } = helmetHeaders(options);
    app.addHook('onRequest', (_req, reply, done) => {
      reply.headers(set);
      done();
    });
  },
  { name: 'security-headers' },
);
