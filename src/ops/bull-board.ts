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
  await app.register(serverAdapter.registerPlugin() as never, { prefix: basePath });
}
