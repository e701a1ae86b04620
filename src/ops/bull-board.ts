/** Bull Board (queue inspector UI) for the training queue, mounted under a path prefix. */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';

export interface BullBoardOptions {
  queues: Queue[];
  /** URL prefix. Default `/admin/queues`. */
  basePath?: string;
  /** Read-only board (no retry/remove/clean buttons). Default false. */
  readOnly?: boolean;
}

/** Registers the board's page, API and static files in their own encapsulated plugin. */
export async function registerBullBoard(app: FastifyInstance, opts: BullBoardOptions): Promise<void> {
  const basePath = opts.basePath ?? '/admin/queues';
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: opts.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: opts.readOnly ?? false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'trainer queues' } },
  });
  // Bull Board 9.10.1 answers 500 to a NUL byte in `?status=` (found by test/fuzz): refuse NULs in its queries first
  app.addHook('onRequest', async (req, reply) => {
    const q = req.url.indexOf('?');
    if (q >= 0 && /%00/.test(req.url.slice(q)))
      return reply.code(400).type('application/problem+json').send({ type: 'urn:tsnn:problem:bad_query', title: 'Bad Request', status: 400, detail: 'the query string contains a NUL byte', code: 'bad_query' });
  });
  await app.register(serverAdapter.registerPlugin() as never, { prefix: basePath });
}
