import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { authPlugin } from './api/auth.js';
import { limitsPlugin } from './api/limits.js';
import { registerOpenApi } from './api/openapi.js';
import { checkOnlyHeaders, routeRulesPlugin } from './api/route-rules.js';
import { clientErrorHandler, installProblemHandlers, sendProblem } from './api/problem.js';
import { CSV_TYPES, JSONL_TYPES } from './api/ingest/read-table.js';
import { datasetRoutes } from './api/routes/datasets.js';
import { healthRoutes } from './api/routes/health.js';
import { jobArtifactRoutes } from './api/routes/job-artifacts.js';
import { webhookRoutes } from './api/routes/webhooks.js';
import { jobCheckpointRoutes } from './api/routes/job-checkpoints.js';
import { jobEventRoutes } from './api/routes/job-events.js';
import { jobRoutes } from './api/routes/jobs.js';
import { sweepRoutes } from './api/routes/sweeps.js';
import { specOptionsRoutes } from './api/routes/spec-options.js';
import { securityHeadersPlugin } from './api/security-headers.js';
import { servicesPlugin } from './api/services.js';
import type { Config } from './config.js';
import { opsPlugin } from './ops/plugin.js';
import { uiPlugin } from './ui/plugin.js';

/** Options of {@link serviceApp}. */
export interface ServiceAppOptions {
  config: Config;
}

/**
 * The whole API as a plugin: services, parsers, OpenAPI, error handling and routes. It never
 * listens; `server.ts` does, and tests use `inject`.
 */
async function serviceAppPlugin(app: FastifyInstance, opts: ServiceAppOptions): Promise<void> {
  const { config } = opts;
  app.setValidatorCompiler(checkOnlyHeaders(validatorCompiler));
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  // Before any route: operationId/tags required, strict query strings, check-only header schemas
  // (every route declared after this gets them; see src/api/route-rules.ts before adding one).
  await app.register(routeRulesPlugin);
  // Echo the request id so a client can quote it; it is in every log record of the request.
  // (Hooks on every request take `done` rather than being async: no promise per request.)
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  await app.register(servicesPlugin, { config });
  // API keys (the `authenticate` decorator ops uses too), rate and stream limits, headers, CORS.
  await app.register(authPlugin, { apiKeys: config.API_KEYS });
  await app.register(limitsPlugin, { config });
  // Helmet's headers, computed once (the same for every response; no CSP nonces).
  await app.register(securityHeadersPlugin, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  if (config.CORS_ORIGINS) {
    const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      exposedHeaders: ['location', 'retry-after', 'x-request-id', 'idempotent-replayed', 'www-authenticate'],
    });
  }
  // Operations (/metrics, Bull Board; its timing hooks must precede the routes) and the dashboard.
  await app.register(opsPlugin);
  await app.register(uiPlugin);
  // CSV and JSON Lines bodies stay a stream: the routes that take them parse it as it arrives.
  app.addContentTypeParser([...CSV_TYPES, ...JSONL_TYPES], (_req, payload, done) => done(null, payload));
  await app.register(multipart, { limits: { fileSize: config.MAX_DATASET_BYTES, files: 1, fields: 10 } });
  await registerOpenApi(app);
  const z = app.withTypeProvider<ZodTypeProvider>();
  await z.register(healthRoutes);
  await z.register(datasetRoutes);
  await z.register(jobRoutes);
  await z.register(jobEventRoutes);
  await z.register(jobArtifactRoutes);
  await z.register(jobCheckpointRoutes);
  await z.register(webhookRoutes);
  await z.register(sweepRoutes);
  await z.register(specOptionsRoutes);
}

/** The app plugin, not encapsulated so the caller sees `svc` and `swagger()`. */
export const serviceApp = fp(serviceAppPlugin, { name: 'service-app' });

/** Never log credentials, whatever a serializer adds. */
const REDACT = { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'headers.authorization'], censor: '[redacted]' };

/** Fastify options for the service: pino JSON logs with request ids, body limit, proxies. */
export function serverOptions(config: Config, logger: FastifyServerOptions['logger'] = { level: config.LOG_LEVEL }): FastifyServerOptions {
  return {
    logger: logger && typeof logger === 'object' && !('child' in logger) ? { redact: REDACT, ...logger } : logger,
    bodyLimit: config.MAX_BODY_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 200 },
    clientErrorHandler,
    // Malformed URLs and over-long path parameters are answered by the router itself: keep them problem+json.
    frameworkErrors: (err, req, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      return sendProblem(reply, req, status, { code: err.code.toLowerCase(), detail: err.message });
    },
  };
}

/** Builds a ready app (not listening). */
export async function buildApp(config: Config, logger?: FastifyServerOptions['logger']): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, logger));
  await app.register(serviceApp, { config });
  await app.ready();
  return app;
}
