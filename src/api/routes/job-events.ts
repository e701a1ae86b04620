import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import { EventsQuerySchema, TERMINAL_STATUSES } from '../../schemas/job.js';
import { readEventsAfter, TERMINAL_EVENTS, waitEventsAfter, type StoredEvent } from '../../storage/event-stream.js';
import { invalidField, notFound } from '../problem.js';

const EventsHeadersSchema = z.looseObject({
  'last-event-id': z.string().max(20).optional().describe('Resume after this event id'),
});

/** How long one XREAD blocks before the loop re-checks the client and the job. */
const BLOCK_MS = 5000;

const frame = (e: StoredEvent) => `id: ${e.id}\nevent: ${e.type}\ndata: ${e.data}\n\n`;

/**
 * `GET /v1/jobs/{id}/events`: Server-Sent Events written by hand on the raw socket, so ids,
 * event names, `retry:` and heartbeats are exact and any client (EventSource, `curl -N` with
 * `Accept: *\/*`) gets the stream. Replays the job's Redis stream after `Last-Event-ID`, then
 * follows it with XREAD BLOCK on a connection of its own, and closes after the terminal event.
 */
export const jobEventRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  /** Open streams, each with a function that ends it; closing the app ends them (clients reconnect elsewhere). */
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Live job events (SSE): status, progress, then one terminal event; resumable with Last-Event-ID',
        params: IdParamsSchema,
        querystring: EventsQuerySchema,
        headers: EventsHeadersSchema,
        response: {
          200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: z.string() } } },
          ...problemResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await svc.jobs.get(id, req.tenant))) throw notFound('job', id);
      const header = req.headers['last-event-id'];
      if (header !== undefined && !/^\d{1,15}$/.test(header)) throw invalidField('last-event-id', 'must be an event id (a non-negative integer)', 'headers');
      let after = header !== undefined ? Number(header) : (req.query.lastEventId ?? 0);
      const stream = svc.keys.jobEvents(id);

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const reader = svc.redis.duplicate({ connectionName: 'tsnn-sse', maxRetriesPerRequest: null });
      reader.on('error', () => {});
      let open = true;
      const stop = () => {
        open = false;
        reader.disconnect();
      };
      req.raw.on('close', stop);
      const shutdown = () => {
        if (open) res.write('retry: 1000\n\n');
        stop();
      };
      streams.add(shutdown);
      const heartbeat = setInterval(() => res.write(': ping\n\n'), svc.config.SSE_HEARTBEAT_MS);
      try {
        let terminal = false;
        while (open && !terminal) {
          let events = await readEventsAfter(svc.redis, stream, after);
          if (events.length === 0) {
            const job = await svc.jobs.get(id);
            if (!job || TERMINAL_STATUSES.includes(job.status)) {
              // Status and terminal event are written atomically, so read once more: the job may have
              // ended between the read above and the status check. Nothing new after that: we are done.
              events = await readEventsAfter(svc.redis, stream, after);
              if (events.length === 0) break;
            } else events = await waitEventsAfter(reader, stream, after, BLOCK_MS);
          }
          for (const e of events) {
            if (!open) break;
            res.write(frame(e));
            after = e.id;
            if (TERMINAL_EVENTS.includes(e.type)) {
              terminal = true;
              break;
            }
          }
        }
      } catch (err) {
        if (open) req.log.warn({ err, jobId: id }, 'event stream failed');
      } finally {
        clearInterval(heartbeat);
        streams.delete(shutdown);
        req.raw.off('close', stop);
        reader.disconnect();
        res.end();
      }
    },
  );
};
