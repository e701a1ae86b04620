import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { deletePrefix, testConfig, uniquePrefix } from './redis.js';

/** An app on unique key/queue prefixes; `close()` also deletes every key it wrote. */
export async function testApp(name: string, env: Record<string, string> = {}): Promise<{ app: FastifyInstance; prefix: string; close: () => Promise<void> }> {
  const prefix = uniquePrefix(name);
  const app = await buildApp(testConfig(prefix, env), false);
  return {
    app,
    prefix,
    close: async () => {
      await app.close();
      await deletePrefix(prefix);
    },
  };
}

/** Asserts the RFC 9457 shape and returns the parsed problem. */
export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const body = JSON.parse(res.body) as { type: string; title: string; status: number; detail?: string; code?: string; errors?: { path: string; message: string; in?: string }[] };
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not problem+json: ${res.headers['content-type']} ${res.body}`);
  if (body.status !== res.statusCode || !body.title || !body.type) throw new Error(`bad problem body ${res.body}`);
  return body;
}
