/**
 * `npm run openapi`: writes `openapi/openapi.json` from the routes (the same document `/docs/json`
 * serves). `--check` exits 1 when the committed file differs.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Fastify from 'fastify';
import { serviceApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

export const OPENAPI_PATH = resolve(import.meta.dirname, '..', 'openapi', 'openapi.json');

/** The OpenAPI document as committed: pretty JSON with a trailing newline. */
export async function renderOpenApi(): Promise<string> {
  // Defaults only, so the document does not depend on the caller's environment; Redis is never used.
  const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', LOG_LEVEL: 'silent' });
  const app = Fastify({ logger: false });
  await app.register(serviceApp, { config });
  await app.ready();
  const doc = app.swagger();
  app.svc.redis.disconnect();
  await app.close();
  return JSON.stringify(doc, null, 2) + '\n';
}

if (import.meta.filename === process.argv[1]) {
  const text = await renderOpenApi();
  if (process.argv.includes('--check')) {
    const same = readFileSync(OPENAPI_PATH, 'utf8') === text;
    console.log(same ? 'openapi/openapi.json is up to date' : 'openapi/openapi.json is stale: run npm run openapi');
    process.exit(same ? 0 : 1);
  }
  mkdirSync(dirname(OPENAPI_PATH), { recursive: true });
  writeFileSync(OPENAPI_PATH, text);
  console.log(`wrote ${OPENAPI_PATH}`);
}
