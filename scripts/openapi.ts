/**
 * `npm run openapi`: writes `openapi/openapi.json` and `openapi/openapi.yaml` from the routes (the
 * documents `/docs/json` and `/docs/yaml` serve), and `openapi/openapi.d.ts`, the TypeScript types
 * openapi-typescript generates from the JSON (for `openapi-fetch` clients). `--check` exits 1 when
 * a committed file differs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Fastify from 'fastify';
import { serviceApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

export const OPENAPI_PATH = resolve(import.meta.dirname, '..', 'openapi', 'openapi.json');
export const OPENAPI_YAML_PATH = resolve(import.meta.dirname, '..', 'openapi', 'openapi.yaml');
export const OPENAPI_TYPES_PATH = resolve(import.meta.dirname, '..', 'openapi', 'openapi.d.ts');
/** openapi-typescript lives in its own workspace (it needs TypeScript 5's compiler API; the project's tsc 7 has none). */
const OPENAPI_TYPESCRIPT = resolve(import.meta.dirname, '..', 'tools', 'openapi-client', 'node_modules', '.bin', 'openapi-typescript');

/** The types openapi-typescript generates from the OpenAPI document at `jsonPath`. */
export function renderClientTypes(jsonPath = OPENAPI_PATH): string {
  return execFileSync(process.execPath, [OPENAPI_TYPESCRIPT, jsonPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** The OpenAPI document as committed: pretty JSON with a trailing newline. */
export async function renderOpenApi(): Promise<string> {
  return (await renderOpenApiDocuments()).json;
}

/** Both committed forms of the OpenAPI document, from one build of the app. */
export async function renderOpenApiDocuments(): Promise<{ json: string; yaml: string }> {
  // Defaults only, so the document does not depend on the caller's environment; Redis is never used.
  const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', LOG_LEVEL: 'silent' });
  const app = Fastify({ logger: false });
  await app.register(serviceApp, { config });
  await app.ready();
  const doc = app.swagger();
  const yaml = app.swagger({ yaml: true });
  app.svc.redis.disconnect();
  await app.close();
  return { json: JSON.stringify(doc, null, 2) + '\n', yaml };
}

if (import.meta.filename === process.argv[1]) {
  const { json, yaml } = await renderOpenApiDocuments();
  if (process.argv.includes('--check')) {
    const same =
      readFileSync(OPENAPI_PATH, 'utf8') === json && readFileSync(OPENAPI_YAML_PATH, 'utf8') === yaml && readFileSync(OPENAPI_TYPES_PATH, 'utf8') === renderClientTypes();
    console.log(same ? 'openapi/ is up to date' : 'openapi/ is stale: run npm run openapi');
    process.exit(same ? 0 : 1);
  }
  mkdirSync(dirname(OPENAPI_PATH), { recursive: true });
  writeFileSync(OPENAPI_PATH, json);
  writeFileSync(OPENAPI_YAML_PATH, yaml);
  writeFileSync(OPENAPI_TYPES_PATH, renderClientTypes());
  console.log(`wrote ${OPENAPI_PATH}, ${OPENAPI_YAML_PATH} and ${OPENAPI_TYPES_PATH}`);
  // the closed app can leave BullMQ's QueueEvents read watchdog (ops job outcomes) armed for a while
  process.exit(0);
}
