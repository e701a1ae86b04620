import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CheckpointListSchema } from '../../schemas/checkpoint.js';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import { notFound } from '../problem.js';

/** `GET /v1/jobs/{id}/checkpoints`: the kept epoch-end checkpoints a new job can start from. */
export const jobCheckpointRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  const store = svc.jobs.checkpoints();

  app.get(
    '/v1/jobs/:id/checkpoints',
    {
      schema: {
        operationId: 'listJobCheckpoints',
        tags: ['jobs'],
        summary: 'Kept epoch-end checkpoints (the last CHECKPOINTS_KEPT plus the best), oldest first; start a new job from one with `fromCheckpoint`',
        params: IdParamsSchema,
        response: { 200: CheckpointListSchema, ...problemResponses(404) },
        'x-response-descriptions': { 200: 'Epoch, metrics of that epoch and size of each kept checkpoint (empty before the first epoch ends)', 404: 'No job with this id' },
      },
    },
    async (req) => {
      const job = await svc.jobs.get(req.params.id, req.tenant);
      if (!job) throw notFound('job', req.params.id);
      const kept = await store.listKept(job.id);
      const score = (k: (typeof kept)[number]) => k.valLoss ?? k.loss;
      const best = kept.reduce<(typeof kept)[number] | null>((b, k) => (b === null || score(k) < score(b) ? k : b), null);
      return { jobId: job.id, items: kept.map((k) => ({ ...k, best: k === best })) };
    },
  );
};
