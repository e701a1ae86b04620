/**
 * Operations endpoints: `GET /metrics` (Prometheus text format, prom-client) and Bull Board at
 * `/admin/queues`, both behind the API keys when an auth plugin provides a guard. Also installs
 * the app-wide hooks that time HTTP requests and count open SSE streams.
 * Register it once, at the root (it is wrapped with fastify-plugin so its hooks see every route).
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { RedisClient } from '../queue/connection.js';
import { appAuthorize, asHook, type Authorize, browserGuard } from './authorize.js';
import { registerBullBoard } from './bull-board.js';
import { type JobReader, JobOutcomeTail } from './job-outcomes.js';
import { OpsMetrics } from './ops-metrics.js';
import { scrapeSources } from './scrape-sources.js';
import { trackSseResponse } from './sse-streams.js';

export interface OpsPluginOptions {
  /** The training queue. Default: `app.svc.queue.queue`. */
  queue?: Queue;
  /** Redis connection to read streams with (duplicated for blocking reads). Default: `app.svc.redis`. */
  redis?: RedisClient;
  /** Job records. Default: `app.svc.jobs`. */
  jobs?: JobReader;
  /** Key of a job's event stream. Default: `app.svc.keys.jobEvents`. */
  jobEventsKey?: (id: string) => string;
  /** Key of the stream of finished jobs. Default: `app.svc.keys.jobOutcomes()`. */
  jobOutcomesKey?: string;
  /**
   * Guard of `/metrics` and `/admin/queues`. Default: the app's `authenticate` (or `authorize`,
   * `verifyApiKey`) decorator, looked up at request time; open when there is none.
   */
  authorize?: Authorize;
  /** Guard `/metrics` too (Prometheus can send `authorization: Bearer`). Default true. */
  protectMetrics?: boolean;
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Default `/admin/queues`; `false` disables Bull Board. */
  boardPath?: string | false;
  /** Route pattern of the SSE events route. Default `/v1/jobs/:id/events`. */
  sseRoute?: string;
  /** Follow the stream of finished jobs to count them and their epoch durations. Default true. */
  tailJobEvents?: boolean;
  /** Export prom-client's process metrics. Default true. */
  defaultMetrics?: boolean;
}

/** The subset of the service decorator ops reads (kept structural: ops doesn't import the API). */
interface ServiceLike {
  queue?: { queue?: Queue };
  redis?: RedisClient;
  jobs?: JobReader;
  keys?: { jobEvents?: (id: string) => string; jobOutcomes?: () => string };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The ops metrics (registry, histograms) of this app. */
    opsMetrics: OpsMetrics;
  }
}

/** CSP of the Bull Board pages: same-origin everything, plus the inline styles its UI needs. */
export const BOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'";

const opsPluginImpl: FastifyPluginAsync<OpsPluginOptions> = async (app: FastifyInstance, opts) => {
  const svc = (app as unknown as { svc?: ServiceLike }).svc ?? {};
  const queue = opts.queue ?? svc.queue?.queue;
  const redis = opts.redis ?? svc.redis;
  const jobs = opts.jobs ?? svc.jobs;
  const jobEventsKey = opts.jobEventsKey ?? svc.keys?.jobEvents;
  const jobOutcomesKey = opts.jobOutcomesKey ?? svc.keys?.jobOutcomes?.();
  if (!queue || !redis || !jobs || !jobEventsKey || !jobOutcomesKey) {
    throw new Error('ops plugin needs queue, redis, jobs, jobEventsKey and jobOutcomesKey (register it after the services plugin, or pass them)');
  }
  const metrics = new OpsMetrics(scrapeSources({ queue, redis, jobEventsKey }), { defaultMetrics: opts.defaultMetrics });
  app.decorate('opsMetrics', metrics);
  const sseRoute = opts.sseRoute ?? '/v1/jobs/:id/events';
  const metricsPath = opts.metricsPath ?? '/metrics';

  // (`done` rather than async: no promise per request.)
  app.addHook('onRequest', (req, reply, done) => {
    if (req.routeOptions.url === sseRoute) trackSseResponse(reply.raw);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url;
    if (route !== sseRoute)
      metrics.httpDuration.observe(
        // unmatched URLs share one label so random paths can't blow up the series count
        { method: req.method, route: route ?? 'unmatched', status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    done();
  });

  if (opts.tailJobEvents !== false) {
    const tail = new JobOutcomeTail({
      stream: jobOutcomesKey,
      redis,
      jobs,
      onFinished: (outcome, history, sps) => metrics.observeFinished(outcome, history, sps),
      // debug: while Redis is down this fires on every reconnect attempt; the service logs the outage
      onError: (err) => app.log.debug({ err: (err as Error)?.message }, 'ops: job outcomes tail error'),
    });
    app.addHook('onClose', async () => tail.close());
    // not awaited: the API must start (and /readyz report 503) while Redis is down
    tail.ready().catch((err) => app.log.warn({ err: (err as Error)?.message }, 'ops: job outcomes tail not ready'));
  }

  // looked up per request: an API-key plugin registered after this one still guards these routes
  const guard: Authorize = opts.authorize ?? ((req, reply) => appAuthorize(app)?.(req, reply));
  app.get(metricsPath, { schema: { hide: true }, onRequest: opts.protectMetrics !== false ? asHook(guard) : undefined }, async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  if (opts.boardPath !== false) {
    const basePath = opts.boardPath ?? '/admin/queues';
    await app.register(async (board) => {
      board.addHook('onRequest', browserGuard(guard));
      // Bull Board's React UI sets inline styles: allow those (only those) on its pages, whatever CSP the app sends
      board.addHook('onSend', async (_req, reply, payload) => {
        reply.header('content-security-policy', BOARD_CSP);
        return payload;
      });
      await registerBullBoard(board, { queues: [queue], basePath });
    });
  }
};

/** Registers `/metrics`, Bull Board and the metrics hooks. */
export const opsPlugin = fp(opsPluginImpl, { name: 'trainer-ops', fastify: '5.x' });
export default opsPlugin;
