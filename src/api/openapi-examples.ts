/**
 * Examples shown in the OpenAPI document (Swagger UI "Try it out" starts from them). They are
 * typed against the zod schemas and `test/api/openapi.test.ts` parses each one with its schema,
 * so an example that drifts from the contract fails a test.
 */
import type { z } from 'zod';
import type { Problem } from '../schemas/common.js';
import type { Dataset, DatasetJsonBody } from '../schemas/dataset.js';
import type { Job, PredictBodySchema, PredictResponseSchema } from '../schemas/job.js';
import type { JobSubmissionSchema } from '../schemas/training-spec.js';

export const DATASET_EXAMPLE_ID = 'ds_0mwx5205p0001fdcdd91';
export const JOB_EXAMPLE_ID = 'job_0mwx5207r000f564bcbf';
const DATASET_ID = DATASET_EXAMPLE_ID;
const JOB_ID = JOB_EXAMPLE_ID;

/** `POST /v1/datasets` JSON body: four rows of two features, integer class targets. */
export const datasetUploadExample: DatasetJsonBody = {
  name: 'xor-ish',
  features: [
    [0.1, 0.9],
    [0.2, 0.8],
    [0.9, 0.1],
    [0.8, 0.3],
  ],
  targets: [0, 0, 1, 1],
};

/** `POST /v1/datasets` text/csv body (header row; `?target=label`). */
export const datasetCsvExample = 'x,y,label\n0.1,0.9,0\n"0.2",0.8,0\n0.9,0.1,1\n0.8,0.3,1\n';

/** A stored dataset (201 of the upload, `GET /v1/datasets/{id}`). */
export const datasetExample: Dataset = {
  id: DATASET_ID,
  name: 'moons',
  rows: 400,
  features: 2,
  targets: 1,
  targetKind: 'integer',
  classes: 2,
  bytes: 4800,
  dtype: 'float32',
  columns: ['x', 'y'],
  targetColumns: ['label'],
  createdAt: '2026-11-26T07:30:00.000Z',
};

/** `POST /v1/jobs` body: the README's two-moons spec. */
export const jobSubmissionExample: z.input<typeof JobSubmissionSchema> = {
  datasetId: DATASET_ID,
  model: {
    layers: [
      { units: 16, activation: 'tanh' },
      { units: 2, activation: 'softmax' },
    ],
    init: 'xavier_normal',
  },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 0.01 },
  epochs: 80,
  batchSize: 16,
  validationSplit: 0.2,
  seed: 5,
};
const { datasetId: _datasetId, ...spec } = jobSubmissionExample;

/** The job as `POST /v1/jobs` returns it (202): queued, no progress yet. */
export const queuedJobExample: Job = {
  id: JOB_ID,
  status: 'queued',
  datasetId: DATASET_ID,
  spec: spec as Job['spec'],
  progress: null,
  createdAt: '2026-11-26T07:31:00.000Z',
  attempts: 0,
};

/** A finished job (`GET /v1/jobs/{id}`, the SSE `completed` event). */
export const completedJobExample: Job = {
  ...queuedJobExample,
  status: 'completed',
  progress: { epoch: 79, epochs: 80, step: 20, stepsPerEpoch: 20, loss: 0.0312, valLoss: 0.0405 },
  result: {
    loss: 0.0312,
    valLoss: 0.0405,
    accuracy: 0.9906,
    valAccuracy: 0.9875,
    epochsRun: 80,
    stoppedEarly: false,
    weightsHash: '9f2c4e1a7b3d5c60',
    durationMs: 412,
    samplesPerSecond: 62136,
  },
  startedAt: '2026-11-26T07:31:00.020Z',
  finishedAt: '2026-11-26T07:31:00.440Z',
  attempts: 1,
};

/** `POST /v1/jobs/{id}/predict` body and answer. */
export const predictRequestExample: z.input<typeof PredictBodySchema> = { features: [[0.1, 0.85], [0.9, 0.15]] };
export const predictResponseExample: z.output<typeof PredictResponseSchema> = {
  predictions: [0, 1],
  probabilities: [
    [0.9999, 0.0001],
    [0.0001, 0.9999],
  ],
};

/** `GET /v1/jobs/{id}/events`: the start of a stream (`retry:`, then `id:`/`event:`/`data:` frames). */
export const eventStreamExample = [
  'retry: 2000',
  '',
  'id: 1',
  'event: status',
  'data: {"status":"queued"}',
  '',
  'id: 2',
  'event: status',
  'data: {"status":"running","attempt":1}',
  '',
  'id: 3',
  'event: progress',
  'data: {"kind":"epoch","epoch":0,"epochs":80,"step":20,"stepsPerEpoch":20,"loss":0.609,"smoothedLoss":0.594,"lr":0.01,"gradNorm":0.729,"layerGradNorms":[0.579,0.442],"clippedSteps":0,"clipped":0,"samplesPerSecond":51200}',
  '',
  ': ping',
  '',
  'id: 83',
  'event: completed',
  `data: {"id":"${JOB_ID}","status":"completed",…}`,
  '',
].join('\n');

/** `GET /v1/jobs/{id}/metrics` with `Accept: text/csv`. */
export const metricsCsvExample =
  'epoch,loss,smoothedLoss,valLoss,accuracy,valAccuracy,lr,gradNorm,clipped,durationMs,samplesPerSecond,gradNormMean,clippedSteps\n0,0.6092,0.5938,0.5981,0.8125,0.8,0.01,0.9893,0,6.1,52459,0.9893,0\n';

const problem = (status: number, title: string, code: string, detail: string, errors?: Problem['errors']): Problem => ({
  type: `urn:tsnn:problem:${code}`,
  title,
  status,
  detail,
  instance: '/v1/jobs',
  code,
  ...(errors ? { errors } : {}),
});

/** One problem document per status, as the error handler writes them (`instance` is set per path). */
export const problemExamples: Record<number | 'dataset404' | 'events400' | 'query400', Problem> = {
  400: problem(400, 'Bad Request', 'validation_failed', 'optimizer.learningRate: Too small: expected number to be >0', [
    { path: 'optimizer.learningRate', message: 'Too small: expected number to be >0', in: 'body' },
  ]),
  /** 400 of the event stream: a bad Last-Event-ID */
  events400: problem(400, 'Bad Request', 'validation_failed', 'last-event-id: must be an event id (a non-negative integer)', [
    { path: 'last-event-id', message: 'must be an event id (a non-negative integer)', in: 'header' },
  ]),
  /** 400 of a route without a body: an unknown query parameter */
  query400: problem(400, 'Bad Request', 'validation_failed', "unknown query parameter 'limt' (did you mean 'limit'?): GET /v1/jobs takes status, limit, after", [
    { path: 'limt', message: "unknown query parameter; did you mean 'limit'?", in: 'query' },
  ]),
  401: problem(401, 'Unauthorized', 'unauthorized', 'send Authorization: Bearer <API key>'),
  404: problem(404, 'Not Found', 'not_found', `job '${JOB_ID}' does not exist`),
  /** 404 of the dataset routes and of `POST /v1/jobs` (its `datasetId`) */
  'dataset404': problem(404, 'Not Found', 'not_found', `dataset '${DATASET_ID}' does not exist`),
  406: problem(406, 'Not Acceptable', 'not_acceptable', 'Accept: text/html names no media type this route answers; send Accept: application/json or text/csv', [
    { path: 'accept', message: 'must accept application/json or text/csv', in: 'header' },
  ]),
  409: problem(409, 'Conflict', 'job_finished', `job '${JOB_ID}' is already completed`),
  413: problem(413, 'Content Too Large', 'too_many_rows', 'features has 20000 rows, at most 10000 per request (MAX_PREDICT_ROWS); split it', [
    { path: 'features', message: 'at most 10000 rows', in: 'body' },
  ]),
  415: problem(415, 'Unsupported Media Type', 'unsupported_media_type', 'send application/json, text/csv or multipart/form-data, not text/plain'),
  422: problem(422, 'Unprocessable Content', 'invalid_spec', 'the last layer has 3 units; dataset ds_0mwx5205p0001fdcdd91 has 2 classes', [
    { path: 'model.layers.1.units', message: 'must be 2 (the dataset has 2 classes)', in: 'body' },
  ]),
  429: problem(429, 'Too Many Requests', 'rate_limited', 'more than 1200 requests in 60 s for this API key; retry after 12 seconds'),
  503: problem(503, 'Service Unavailable', 'redis_unavailable', 'Redis is unreachable; retry later'),
};
