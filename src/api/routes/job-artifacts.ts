import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Evaluator, predict, type Model } from '../../core/index.js';
import type { Dataset } from '../../schemas/dataset.js';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import { EvaluateBodySchema, EvaluationSchema, metricsRow, MetricsSchema, type EpochMetricsRow, PredictBodySchema, PredictResponseSchema, TERMINAL_STATUSES } from '../../schemas/job.js';
import { JsonOrCsvHeadersSchema, negotiateOr406 } from '../headers.js';
import { ModelQuerySchema, TfjsExportSchema } from '../../schemas/model-export.js';
import { modelToOnnx } from '../../export/onnx.js';
import { modelToTfjs } from '../../export/tfjs.js';
import { bulkPredict } from '../bulk-predict.js';
import { bodyTooLarge, tableFormatOf } from '../ingest/read-table.js';
import { HttpProblem, invalidField, notFound } from '../problem.js';

/**
 * The CSV columns: the old ones in their places (`gradNorm` and `clipped` are deprecated, removed
 * in the next version), then their new names `gradNormMean` and `clippedSteps` at the end.
 */
const METRIC_COLUMNS: (keyof EpochMetricsRow)[] = [
  'epoch', 'loss', 'smoothedLoss', 'valLoss', 'accuracy', 'valAccuracy', 'lr', 'gradNorm', 'clipped', 'durationMs', 'samplesPerSecond', 'gradNormMean', 'clippedSteps',
];

function metricsCsv(history: EpochMetricsRow[]): string {
  const lines = [METRIC_COLUMNS.join(',')];
  for (const m of history) lines.push(METRIC_COLUMNS.map((c) => (m[c] === undefined ? '' : String(m[c]))).join(','));
  return lines.join('\n') + '\n';
}

/**
 * 400 (at `datasetId`) unless `ds` has the model's input columns (by name, in order, when both
 * the dataset and the training data named them) and targets the model can be scored on.
 */
function checkEvaluationData(model: Model, ds: Dataset, trainedColumns: string[] | undefined): void {
  const bad = (message: string) => invalidField('datasetId', message);
  if (ds.features !== model.inputSize) throw bad(`dataset '${ds.id}' has ${ds.features} feature columns; the model takes ${model.inputSize}`);
  if (trainedColumns && ds.columns) {
    const i = trainedColumns.findIndex((c, k) => ds.columns![k] !== c);
    if (i >= 0)
      throw bad(`feature column ${i + 1} of dataset '${ds.id}' is '${ds.columns[i].slice(0, 60)}' where the model was trained on '${trainedColumns[i].slice(0, 60)}'; upload the columns in the training order`);
  }
  const outputs = model.layers[model.layers.length - 1].units;
  if (model.task === 'classification') {
    if (ds.targets !== 1 || ds.classes === undefined)
      throw bad(`dataset '${ds.id}' needs one column of class indices (0, 1, …) to evaluate a classifier; its targets are ${ds.targets} ${ds.targetKind} column(s)`);
    if (ds.classes > model.classes!) throw bad(`dataset '${ds.id}' has class ${ds.classes - 1}; the model knows classes 0–${model.classes! - 1}`);
  } else if (ds.targets !== outputs) throw bad(`dataset '${ds.id}' has ${ds.targets} target column(s); the model has ${outputs} output(s)`);
}

/** What a CSV predict answers, by preference when Accept allows both. */
const PREDICT_MEDIA_TYPES = ['application/json', 'text/csv'] as const;

/** The CSV body of predict, for the OpenAPI document only (it is parsed by hand). */
const PREDICT_CSV_DOC_CONTENT = {
  'text/csv': {
    schema: {
      type: 'string',
      description:
        "CSV with a header naming the model's feature columns (any order; the training target column, if present, is ignored), streamed, up to MAX_DATASET_BYTES (gzip with Content-Encoding: gzip). The answer streams too: CSV (prediction, then class probabilities, one line per row) with Accept: text/csv, else the JSON answer",
    },
  },
};

/** 415 before parsing unless the body is JSON or CSV. */
async function jsonOrCsvBody<P>(req: FastifyRequest, _reply: FastifyReply, payload: P): Promise<P> {
  const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || tableFormatOf(type) === 'csv') return payload;
  throw new HttpProblem(
    415,
    'unsupported_media_type',
    `POST /v1/jobs/{id}/predict takes application/json or text/csv; ${type ? `got ${type}` : 'the request has no Content-Type'}`,
  );
}

/** What `/metrics` answers, by preference when Accept allows both. */
const METRICS_MEDIA_TYPES = ['application/json', 'text/csv'] as const;

/** `/metrics`, `/model` and `/predict` of a job. */
export const jobArtifactRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;

  async function completedJob(id: string, tenant: string) {
    return (await jobWithModel(id, tenant)).model;
  }

  async function jobWithModel(id: string, tenant: string) {
    const job = await svc.jobs.get(id, tenant);
    if (!job) throw notFound('job', id);
    // A job stopped by maxDurationSeconds or cancelled while running keeps the model of its last checkpoint.
    const timedOut = job.status === 'failed' && job.error?.code === 'timeout';
    if (job.status !== 'completed' && job.status !== 'cancelled' && job.status !== 'pruned' && !timedOut)
      throw new HttpProblem(409, 'job_not_completed', `job '${id}' is ${job.status}; the model exists once it is completed`);
    const model = await svc.jobs.getModel(id);
    if (model) return { job, model };
    if (job.status === 'cancelled') {
      const p = job.progress;
      const finishedEpochs = p ? (p.step >= p.stepsPerEpoch ? p.epoch + 1 : p.epoch) : 0;
      throw new HttpProblem(
        409,
        'model_missing',
        !job.startedAt
          ? `job '${id}' was cancelled before training started: no model`
          : finishedEpochs > 0
            ? // Cancelled while queued to resume with no epoch-end checkpoint to rebuild the model from.
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
      const history = (await svc.jobs.getHistorySoFar(id)).map(metricsRow);
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
      // JSON rows: MAX_PREDICT_ROWS bounds the work, this the bytes; a CSV body streams under MAX_DATASET_BYTES
      bodyLimit: Math.min(svc.config.MAX_JSON_DATASET_BYTES, svc.config.MAX_DATASET_BYTES),
      preParsing: jsonOrCsvBody,
      schema: {
        tags: ['jobs'],
        operationId: 'predictJob',
        summary: 'Predict with the trained model (applies the stored normalization): JSON rows, or a CSV body streamed both ways',
        params: IdParamsSchema,
        headers: JsonOrCsvHeadersSchema,
        body: { content: { 'application/json': { schema: PredictBodySchema } } } as never,
        'x-extra-body-content': PREDICT_CSV_DOC_CONTENT,
        response: {
          200: {
            description: 'Predictions: class indices with probabilities for classifiers, values for regression (JSON; a CSV body with Accept: text/csv gets CSV)',
            content: { 'application/json': { schema: PredictResponseSchema }, 'text/csv': { schema: z.string() } },
          },
          ...problemResponses(400, 404, 406, 409, 413, 415),
        },
        'x-response-descriptions': {
          400: "Invalid features, a row whose width is not the model's input (errors[].path = features.<row>), or a CSV whose header does not name the model's features (csv:1) or with a bad cell (csv:<line>:<column>)",
          404: 'No job with this id',
          406: 'Accept names neither application/json nor text/csv',
          409: 'The job has no trained model yet',
          413: 'More than MAX_PREDICT_ROWS JSON rows or a JSON body over MAX_JSON_DATASET_BYTES; a CSV body over MAX_DATASET_BYTES or MAX_DATASET_ROWS rows',
          415: 'Not application/json or text/csv',
        },
      } as never,
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const format = tableFormatOf(req.headers['content-type']);
      if (format === 'csv') {
        const unread = () => {
          if (!req.raw.complete) reply.header('connection', 'close');
        };
        try {
          const media = negotiateOr406(req.headers.accept, PREDICT_MEDIA_TYPES);
          const maxBytes = svc.config.MAX_DATASET_BYTES;
          if (Number(req.headers['content-length']) > maxBytes) throw bodyTooLarge(maxBytes)();
          const encoding = req.headers['content-encoding']?.trim().toLowerCase();
          if (encoding && encoding !== 'gzip' && encoding !== 'identity')
            throw new HttpProblem(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported; send gzip or no encoding`, [
              { path: 'content-encoding', message: 'gzip or identity', in: 'header' },
            ]);
          const { job, model } = await jobWithModel(id, req.tenant);
          const trained = await svc.datasets.get(job.datasetId);
          const out = await bulkPredict(req.body as Readable, {
            model,
            columns: model.featureNames ? [...model.featureNames] : trained?.columns,
            targetColumns: trained?.targetColumns,
            media,
            maxBytes,
            limits: { maxRows: svc.config.MAX_DATASET_ROWS, maxColumns: svc.config.MAX_DATASET_COLUMNS },
            gzip: encoding === 'gzip',
          });
          return reply.type(media === 'text/csv' ? 'text/csv; charset=utf-8' : 'application/json').send(out);
        } catch (err) {
          unread();
          throw err;
        }
      }
      const model = await completedJob(id, req.tenant);
      const rows = (req.body as z.infer<typeof PredictBodySchema>).features;
      if (rows.length > svc.config.MAX_PREDICT_ROWS)
        throw new HttpProblem(413, 'too_many_rows', `features has ${rows.length} rows, at most ${svc.config.MAX_PREDICT_ROWS} per request (MAX_PREDICT_ROWS); split it, or send CSV (streamed, no row limit but MAX_DATASET_ROWS)`, [
          { path: 'features', message: `at most ${svc.config.MAX_PREDICT_ROWS} rows`, in: 'body' },
        ]);
      rows.forEach((r, i) => {
        if (r.length !== model.inputSize) throw invalidField(`features.${i}`, `has ${r.length} values; the model takes ${model.inputSize}`);
      });
      return predict(model, rows);
    },
  );

  app.post(
    '/v1/jobs/:id/evaluate',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'evaluateJob',
        summary: "Metrics of the trained model on a stored labelled dataset (the model's normalization applies)",
        params: IdParamsSchema,
        body: EvaluateBodySchema,
        response: { 200: EvaluationSchema, ...problemResponses(400, 404, 409) },
        'x-response-descriptions': {
          200: '{rows, loss, accuracy, perClass, confusionMatrix} for classification and binary models, {rows, loss, mse, mae, r2} for regression',
          400: "The dataset's columns or targets do not fit the model (errors[].path = datasetId)",
          404: 'No job with this id, or no dataset with this datasetId (of this tenant)',
          409: 'The job has no trained model yet',
        },
      },
    },
    async (req) => {
      const { job, model } = await jobWithModel(req.params.id, req.tenant);
      const { datasetId } = req.body;
      const ds = await svc.datasets.get(datasetId, req.tenant);
      if (!ds) throw new HttpProblem(404, 'dataset_not_found', `dataset '${datasetId}' does not exist`, [{ path: 'datasetId', message: 'no such dataset', in: 'body' }]);
      const trained = job.datasetId === datasetId ? ds : await svc.datasets.get(job.datasetId);
      checkEvaluationData(model, ds, model.featureNames ? [...model.featureNames] : trained?.columns);
      const loaded = await svc.datasets.load(datasetId);
      if (!loaded) throw new HttpProblem(404, 'dataset_not_found', `dataset '${datasetId}' does not exist`, [{ path: 'datasetId', message: 'no such dataset', in: 'body' }]);
      const { features, targets } = loaded;
      const width = model.task === 'classification' ? 1 : model.layers[model.layers.length - 1].units;
      if (model.task === 'binary')
        for (let i = 0; i < targets.length; i++)
          if (targets[i] !== 0 && targets[i] !== 1)
            throw invalidField('datasetId', `row ${Math.floor(i / width)} has target ${targets[i]}; a binary model is evaluated on 0/1 targets`);
      const ev = new Evaluator(model);
      const F = model.inputSize;
      // a batch of rows at a time, yielding between batches so the API keeps answering
      const batch = Math.max(1, Math.floor(262_144 / F));
      for (let s = 0; s < ds.rows; s += batch) {
        const m = Math.min(batch, ds.rows - s);
        ev.add(predict(model, features.subarray(s * F, (s + m) * F)), targets.subarray(s * width, (s + m) * width), m);
        await new Promise((r) => setImmediate(r));
      }
      return ev.result();
    },
  );
};
