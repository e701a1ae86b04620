import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../../schemas/common.js';
import { sendProblem } from '../problem.js';

/** `/healthz`: the process answers. `/readyz`: Redis answers PING within a second. */
export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], operationId: 'getHealth', summary: 'Process is up', response: { 200: z.object({ status: z.literal('ok') }) }, 'x-response-descriptions': { 200: 'The process answers' } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        operationId: 'getReadiness', summary: 'Redis is reachable',
        response: { 200: z.object({ status: z.literal('ready') }), ...problemResponses(503) },
        'x-response-descriptions': { 200: 'Redis answers PING within a second', 503: 'Redis does not answer (Retry-After: 5)' },
      },
    },
    async (req, reply) => {
      const ping = app.svc.redis.ping();
      const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 1000).unref());
      try {
        await Promise.race([ping, timeout]);
        return { status: 'ready' as const };
      } catch {
        ping.catch(() => {});
        reply.header('retry-after', '5');
        return sendProblem(reply, req, 503, { code: 'redis_unavailable', detail: 'Redis does not answer' });
      }
    },
  );
};
