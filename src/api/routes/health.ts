import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../../schemas/common.js';
import { sendProblem } from '../problem.js';

/** Resolves with `p`, or rejects after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  p.catch(() => {});
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref());
  return Promise.race([p, timeout]);
}

const ReadySchema = z.object({
  status: z.literal('ready'),
  checks: z.object({ redis: z.literal('ok'), blobStore: z.object({ status: z.literal('ok'), kind: z.enum(['local', 's3']), location: z.string() }) }),
});

/**
 * `/healthz`: the process answers. `/readyz`: Redis answers PING within a second and the blob
 * store a cheap check (S3 HeadBucket, or the local directory is writable) within two.
 */
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
        operationId: 'getReadiness', summary: 'Redis and the blob store are reachable',
        response: { 200: ReadySchema, ...problemResponses(503) },
        'x-response-descriptions': {
          200: 'Redis answers PING within a second and the blob store answers within two (S3 HeadBucket, or the local DATA_DIR is writable)',
          503: 'Redis (code redis_unavailable) or the blob store (code blob_store_unavailable) does not answer (Retry-After: 5)',
        },
      },
    },
    async (req, reply) => {
      const { redis, blobs } = app.svc;
      const [r, b] = await Promise.allSettled([within(redis.ping(), 1000), within(blobs.ping(), 2000)]);
      if (r.status === 'rejected') {
        reply.header('retry-after', '5');
        return sendProblem(reply, req, 503, { code: 'redis_unavailable', detail: 'Redis does not answer' });
      }
      if (b.status === 'rejected') {
        reply.header('retry-after', '5');
        const why = b.reason instanceof Error ? b.reason.message : String(b.reason);
        return sendProblem(reply, req, 503, { code: 'blob_store_unavailable', detail: `the blob store (${blobs.kind}, ${blobs.location}) does not answer: ${why}` });
      }
      return { status: 'ready' as const, checks: { redis: 'ok' as const, blobStore: { status: 'ok' as const, kind: blobs.kind, location: blobs.location } } };
    },
  );
};
