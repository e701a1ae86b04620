import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { predict } from '../../core/index.js';
import type { EpochMetrics } from '../../core/types.js';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import { MetricsSchema, PredictBodySchema, PredictResponseSchema, TERMINAL_STATUSES } from '../../schemas/job.js';
import { JsonOrCsvHeadersSchema, negotiateOr406 } from '../headers.js';
import { ModelQuerySchema, TfjsExportSchema } from '../../schemas/model-export.js';
import { modelToOnnx } from '../../export/onnx.js';
import { modelToTfjs } from '../../export/tfjs.js';
import { HttpProblem, invalidField, notFound, jsonBodyOnly } from '../problem.js';

const METRIC_COLUMNS: (keyof EpochMetrics)[] = [
  'epoch', 'loss', 'smoothedLoss', 'valLoss', 'accuracy', 'valAccuracy', 'lr', 'gradNorm', 'clipped', 'durationMs', 'samplesPerSecond',
];

function metricsCsv(history: EpochMetrics[]): string {
  const lines = [METRIC_COLUMNS.join(',')];
  for (const m of history) lines.push(METRIC_COLUMNS.map((c) => (m[c] === undefined ? '' : String(m[c]))).join(','));
  return lines.join('\n') + '\n';
}

/** What `/metrics` answers, by preference when Accept allows both. */
const METRICS_MEDIA_TYPES = ['application/json', 'text/csv'] as const;

/** `/metrics`, `/model` and `/predict` of a job. */
export const jobArtifactRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;

  async function completedJob(id: string, tenant: string) {
    const job = await svc.jobs.get(id, tenant);
    if (!job) throw notFound('job', id);
    // A job stopped by maxDurationSeconds or cancelled while running keeps the model of its last checkpoint.
    const timedOut = job.status === 'failed' && job.error?.code === 'timeout';
    if (job.status !== 'completed' && job.status !== 'cancelled' && job.status !== 'pruned' && !timedOut)
      throw new HttpProblem(409, 'job_not_completed', `job '${id}' is ${job.status}; the model exists once it is completed`);
    const model = await svc.jobs.getModel(id);
    if (model) return model;
    if (job.status === 'cancelled') {
      const p = job.progress;
      const finishedEpochs = p ? (p.step >= p.stepsPerEpoch ? p.epoch + 1 : p.epoch) : 0;
      throw new HttpProblem(
        409,
        'model_missing',
        !job.startedAt
          ? `job '${id}' was cancelled before training started: no model`
          : finishedEpochs > 0
            ? // Cancelled while queued to resume: the API's queued cancel does not rebuild the checkpoint's model.
              `job '${id}' was cancelled while queued to resume (after a worker hand-back or a retry) with ${finishedEpochs} finished epoch(s); their model was not kept`
            : `job '${id}' was cancelled before its first epoch finished: no model`,
      );
    }
    throw new HttpProblem(409, 'model_missing', `job '${id}' has no stored model`);
  }

  app.get(
    '/v1/jobs/:id/metrics',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'getJobMetrics', summary: 'Per-epoch history so far (JSON, or CSV with Accept: text/csv); complete once the job finished',
        params: IdParamsSchema,
        headers: JsonOrCsvHeadersSchema,
        response: {
          200: { description: 'Per-epoch history (JSON; CSV with Accept: text/csv)', content: { 'application/json': { schema: MetricsSchema }, 'text/csv': { schema: z.string() } } },
          ...problemResponses(400, 404, 406),
        },
        'x-response-descriptions': { 400: 'An unknown query parameter, or an Accept header that does not parse (errors[].in = header)', 404: 'No job with this id', 406: 'Accept names neither application/json nor text/csv' },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const media = negotiateOr406(req.headers.accept, METRICS_MEDIA_TYPES);
      const job = await svc.jobs.get(id, req.tenant);
      if (!job) throw notFound('job', id);
      // Only a finished job's history is final; a queued or running one may still grow.
      const complete = TERMINAL_STATUSES.includes(job.status);
      const history = await svc.jobs.getHistorySoFar(id);
      if (media === 'text/csv') return reply.type('text/csv; charset=utf-8').serializer((s: unknown) => s as string).send(metricsCsv(history));
      return reply.type('application/json').send({ jobId: id, complete, history });
    },
  );

  app.get(
    '/v1/jobs/:id/model',
    {
      schema: {
        operationId: 'getJobModel',
        tags: ['jobs'],
        summary: "The trained model: the core's portable JSON (default), ONNX, or a TensorFlow.js layers model",
        params: IdParamsSchema,
        querystring: ModelQuerySchema,
        response: {
          200: {
            description: 'The trained model in the asked format',
            content: {
              'application/json': { schema: z.union([z.record(z.string(), z.unknown()).describe('tsnn-model JSON'), TfjsExportSchema]) },
              'application/octet-stream': { schema: z.string().describe('ONNX ModelProto bytes (format=onnx)') },
            },
          },
          ...problemResponses(400, 404, 409),
        },
        'x-response-descriptions': {
          400: 'Unknown format (errors[].path = format)',
          404: 'No job with this id',
          409: 'The job has no model (not completed yet, or none was stored)',
        },
      },
    },
    async (req, reply) => {
      const model = await completedJob(req.params.id, req.tenant);
      switch (req.query.format) {
        case 'onnx':
          return reply
            .type('application/octet-stream')
            .header('content-disposition', `attachment; filename="${req.params.id}.onnx"`)
            // A Buffer is sent as is (no serializer); the cast only satisfies the route's JSON typing.
            .send(Buffer.from(modelToOnnx(model)) as unknown as string);
        case 'tfjs':
          return reply.type('application/json').send(modelToTfjs(model));
        default:
          return reply.type('application/json').send(model as unknown as Record<string, unknown>);
      }
    },
  );

  app.post(
    '/v1/jobs/:id/predict',
    {
      // Feature rows are data, like an upload: MAX_PREDICT_ROWS bounds the work, this the bytes.
      bodyLimit: Math.min(svc.config.MAX_JSON_DATASET_BYTES, svc.config.MAX_DATASET_BYTES),
      preParsing: jsonBodyOnly('POST /v1/jobs/{id}/predict'),
      schema: {
        tags: ['jobs'],
        operationId: 'predictJob', summary: 'Predict with the trained model (applies the stored normalization)',
        params: IdParamsSchema,
        body: PredictBodySchema,
        response: { 200: PredictResponseSchema, ...problemResponses(400, 404, 409, 413, 415) },
        'x-response-descriptions': {
          200: 'Predictions: class indices with probabilities for classifiers, values for regression',
          400: 'Invalid features, or a row whose width is not the model\'s input (errors[].path = features.<row>)',
          404: 'No job with this id',
          409: 'The job has no trained model yet',
          413: 'More than MAX_PREDICT_ROWS rows, or a body over MAX_DATASET_BYTES',
          415: 'Not application/json',
        },
      },
    },
    async (req) => {
      const model = await completedJob(req.params.id, req.tenant);
      const rows = req.body.features;
      if (rows.length > svc.config.MAX_PREDICT_ROWS)
        throw new HttpProblem(413, 'too_many_rows', `features has ${rows.length} rows, at most ${svc.config.MAX_PREDICT_ROWS} per request (MAX_PREDICT_ROWS); split it`, [
          { path: 'features', message: `at most ${svc.config.MAX_PREDICT_ROWS} rows`, in: 'body' },
        ]);
      rows.forEach((r, i) => {
        if (r.length !== model.inputSize) throw invalidField(`features.${i}`, `has ${r.length} values; the model takes ${model.inputSize}`);
      });
      return predict(model, rows);
    },
  );
};
