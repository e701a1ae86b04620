import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import { EventsQuerySchema, TERMINAL_STATUSES } from '../../schemas/job.js';
import { FIRST_JOB_EVENT, TERMINAL_EVENTS, type StoredEvent } from '../../storage/event-stream.js';
import { SWEEP_TERMINAL_EVENTS } from '../../storage/sweep-store.js';
import { EventHub } from '../event-hub.js';
import { LastEventIdHeader } from '../headers.js';
import { notFound } from '../problem.js';

const EventsHeadersSchema = z.looseObject({
  'last-event-id': LastEventIdHeader.optional().describe('Resume after this event id (the `id:` of the last event received; EventSource sends it when it reconnects)'),
});

/** How often an open stream re-checks its job (gone, or ended with nothing left to send). */
const STATUS_CHECK_MS = 5000;
/**
 * Bytes a client may leave unread before its stream is paused: nothing more is written to it
 * until its socket drains, then it catches up from the stream (so a slow client costs at most
 * this much memory here, and never slows the others).
 */
export const SSE_MAX_BUFFERED_BYTES = 1 << 20;

const frame = (e: StoredEvent) => `id: ${e.id}\nevent: ${e.type}\ndata: ${e.data}\n\n`;
/** Every follower of a job gets the same event objects from the hub: format and UTF-8 encode each once. */
const frames = new WeakMap<StoredEvent, Buffer>();
function frameOf(e: StoredEvent): Buffer {
  let f = frames.get(e);
  if (f === undefined) frames.set(e, (f = Buffer.from(frame(e))));
  return f;
}

/**
 * `GET /v1/jobs/{id}/events`: Server-Sent Events written by hand on the raw socket, so ids,
 * event names, `retry:` and heartbeats are exact and any client (EventSource, `curl -N` with
 * `Accept: *\/*`) gets the stream. Replays the job's Redis stream after `Last-Event-ID`, then
 * follows it through this process's {@link EventHub} (one Redis connection for all streams), and
 * closes after the terminal event. A client more than {@link SSE_MAX_BUFFERED_BYTES} behind is
 * paused until its socket drains.
 */
export const jobEventRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  // The pid in the name lets an operator (or a test) count this process's hub connections.
  const hub = new EventHub(svc.redis, { connectionName: `tsnn-sse-hub-${process.pid}` });
  /** Open streams, each with a function that ends it; closing the app ends them (clients reconnect elsewhere). */
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.addHook('onClose', async () => hub.close());
  /**
   * Writes the SSE stream `o.stream` after the client's last event id on the hijacked socket: replay, then live
   * through the hub, closed after a terminal event (or when `o.ended()` says nothing more comes).
   */
  async function serveEvents(
    req: FastifyRequest,
    reply: FastifyReply,
    o: {
      stream: string;
      lastEventId: number | undefined;
      terminal: readonly string[];
      logFields: object;
      ended: () => Promise<boolean>;
      /** An event implied by the record rather than stored (a job's FIRST_JOB_EVENT): sent first when the client has not seen it, and never read from the stream. */
      first?: Readonly<StoredEvent>;
    },
  ): Promise<FastifyReply | void> {
    // HEAD (Fastify adds it to GET routes): Node never flushes a HEAD head written for a stream, so the
    // request hung holding a follower until the stream ended (found by test/fuzz); answer the head alone
    if (req.method === 'HEAD') return reply.code(200).header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').send('');
    // Resume after the Last-Event-ID header, else ?lastEventId=, else from the start.
    const header = req.headers['last-event-id'];
    const resumeAfter = header !== undefined ? Number(header) : (o.lastEventId ?? 0);
    const after = o.first ? Math.max(resumeAfter, o.first.id) : resumeAfter;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    if (o.first && resumeAfter < o.first.id) res.write(frame(o.first));
    await new Promise<void>((done) => {
      let open = true;
      const finish = () => {
        if (!open) return;
        open = false;
        follower.close();
        clearInterval(heartbeat);
        clearInterval(check);
        streams.delete(shutdown);
        req.raw.off('close', finish);
        res.end();
        done();
      };
      const shutdown = () => {
        if (open) res.write('retry: 1000\n\n');
        finish();
      };
      const follower = hub.follow(o.stream, after, (e) => {
        res.write(frameOf(e));
        if (o.terminal.includes(e.type)) finish();
        else if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
          req.log.debug({ ...o.logFields, buffered: res.writableLength }, 'slow event stream client paused');
          follower.pause();
          res.once('drain', () => {
            if (open) follower.resume().catch(failed);
          });
        }
      });
      /** Ends the stream when the job is gone or ended and nothing is left after the cursor. */
      const checkEnded = async () => {
        const ended = await o.ended();
        if (!open || follower.paused) return; // a paused stream ends when it resumes and reaches the terminal event
        if (ended) {
          // Read what is left, then we are done.
          await follower.sync();
          finish();
        }
      };
      const failed = (err: unknown) => {
        if (open) req.log.warn({ err, ...o.logFields }, 'event stream failed');
        finish();
      };
      req.raw.on('close', finish);
      streams.add(shutdown);
      const heartbeat = setInterval(() => res.write(': ping\n\n'), svc.config.SSE_HEARTBEAT_MS);
      const check = setInterval(() => checkEnded().catch(failed), STATUS_CHECK_MS);
      follower.ready.then(() => (open ? checkEnded() : undefined)).catch(failed);
    });
  }

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'streamJobEvents', summary: 'Live job events (SSE): status, progress, then one terminal event; resumable with Last-Event-ID',
        params: IdParamsSchema,
        querystring: EventsQuerySchema,
        headers: EventsHeadersSchema,
        response: {
          200: {
            description:
              'Server-Sent Events. Every event has an increasing `id:`. `event: status` on each state change (`data: {"status":"running","attempt":1}`); ' +
              '`event: progress` with the core\'s progress fields (epoch, step, loss, smoothedLoss, valLoss, accuracy, lr, gradNorm: the last step\'s pre-clip global gradient norm, layerGradNorms, clippedSteps: steps so far in which clipping changed the gradient, samplesPerSecond; `clipped`, the old name of clippedSteps, is deprecated and removed in the next version); ' +
              'then one terminal event, `completed`, `failed` or `cancelled`, whose data is the job, after which the server closes the stream. ' +
              'Comment lines (`: ping`) are heartbeats. A finished job replays its history and closes. ' +
              'Resume with the `Last-Event-ID` header (or `?lastEventId=` for clients that cannot set headers): events after that id, none missed, none repeated.',
            content: { 'text/event-stream': { schema: z.string() } },
          },
          ...problemResponses(400, 404, 429),
        },
        'x-response-descriptions': {
          400: 'Last-Event-ID or lastEventId is not an event id (a non-negative integer)',
          404: 'No job with this id',
          429: 'Rate limit, or MAX_SSE_STREAMS_PER_KEY event streams are already open for this API key (too_many_streams); see Retry-After',
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await svc.jobs.get(id, req.tenant))) throw notFound('job', id);
      return serveEvents(req, reply, {
        stream: svc.keys.jobEvents(id),
        first: FIRST_JOB_EVENT,
        lastEventId: req.query.lastEventId,
        terminal: TERMINAL_EVENTS,
        logFields: { jobId: id },
        // Status and terminal event are written atomically: once it is terminal, what is left is all there is.
        ended: async () => {
          const status = await svc.redis.hget(svc.keys.job(id), 'status');
          return status === null || (TERMINAL_STATUSES as readonly string[]).includes(status);
        },
      });
    },
  );

  app.get(
    '/v1/sweeps/:id/events',
    {
      schema: {
        tags: ['sweeps'],
        operationId: 'streamSweepEvents',
        summary: 'Live sweep events (SSE): trial.started, trial.pruned, trial.completed, sweep.best, then sweep.completed or sweep.cancelled; resumable with Last-Event-ID',
        params: IdParamsSchema,
        querystring: EventsQuerySchema,
        headers: EventsHeadersSchema,
        response: {
          200: {
            description:
              'Server-Sent Events with increasing integer `id:`s. `trial.started` ({trial, jobId}) when a trial\'s job starts; `trial.completed`, `trial.pruned`, `trial.failed`, `trial.cancelled` ' +
              '({trial, jobId, status, metric, epochsRun, params}) when it ends; `sweep.best` ({trial, jobId, metric, params}) when a completed trial beats the best so far; ' +
              'then one terminal event, `sweep.completed` or `sweep.cancelled` ({status, best}), after which the server closes the stream. Resume with `Last-Event-ID` (or `?lastEventId=`).',
            content: { 'text/event-stream': { schema: z.string() } },
          },
          ...problemResponses(400, 404, 429),
        },
        'x-response-descriptions': {
          400: 'Last-Event-ID or lastEventId is not an event id (a non-negative integer)',
          404: 'No sweep with this id',
          429: 'Rate limit',
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await svc.sweeps.meta(id, req.tenant))) throw notFound('sweep', id);
      return serveEvents(req, reply, {
        stream: svc.keys.sweepEvents(id),
        lastEventId: req.query.lastEventId,
        terminal: SWEEP_TERMINAL_EVENTS,
        logFields: { sweepId: id },
        // Status and terminal event are written in one script.
        ended: async () => {
          const status = await svc.redis.hget(svc.keys.sweep(id), 'status');
          return status === null || status === 'completed' || status === 'cancelled';
        },
      });
    },
  );
};
