import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import type { Dataset } from '../../schemas/dataset.js';
import { JobListQuerySchema, JobListSchema, JobSchema, TERMINAL_STATUSES, type Job } from '../../schemas/job.js';
import { JobSubmissionSchema, submissionSpec, toTrainingSpec } from '../../schemas/training-spec.js';
import { bodyHash, claimIdempotencyKey, releaseIdempotencyKey } from '../../storage/idempotency.js';
import { isCluster } from '../../queue/connection.js';
import { newId } from '../../storage/ids.js';
import { IdempotencyKeyHeader } from '../headers.js';
import { HttpProblem, invalidFields, notFound, jsonBodyOnly } from '../problem.js';
import { awaitIdempotentResource } from '../idempotency-replay.js';
import { reserveActiveJob } from '../limits.js';
import { validateSpec } from '../../core/spec.js';
import { DryRunQuerySchema, JobEstimateSchema } from '../../schemas/estimate.js';
import { Estimator } from '../estimate.js';
import type { TrainingSpec } from '../../core/types.js';
import { keptModel, type KeptModel } from '../../storage/kept-model.js';
import { checkWebhookUrl } from './webhooks.js';
import { checkpointToStartFrom } from '../from-checkpoint.js';

const SubmitHeadersSchema = z.looseObject({
  'idempotency-key': IdempotencyKeyHeader.optional().describe('Same key and body → same job'),
});

/** `POST /v1/jobs`, `GET /v1/jobs`, `GET /v1/jobs/{id}`, `POST /v1/jobs/{id}/cancel`. */
export const jobRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  const estimator = new Estimator(svc);

  // Stored datasets never change (an id is never reused), so small target arrays are kept
  // between submits: most jobs train on the same few datasets, and reading the labels was one
  // more Redis round trip per submit. A dataset deleted meanwhile is caught by the lookup first.
  const targetsCache = new Map<string, Float32Array | Float64Array>();
  const TARGETS_CACHE_ENTRIES = 64;
  const TARGETS_CACHE_MAX_BYTES = 256 * 1024;

  // Dataset metadata never changes either; only its existence does, which the one-step submit
  // checks in its script (and a spec that does not fit is checked again without the cache).
  const datasetCache = new Map<string, { tenant: string; meta: Dataset }>();
  const DATASET_CACHE_ENTRIES = 1024;

  const datasetNotFound = (id: string) =>
    new HttpProblem(404, 'dataset_not_found', `dataset '${id}' does not exist; upload it with POST /v1/datasets`, [{ path: 'datasetId', message: 'no such dataset', in: 'body' }]);

  /** A job whose BullMQ add failed: failed at once, and a 503 (nothing will run it). */
  async function enqueueFailed(id: string): Promise<never> {
    await svc.jobs.finish(id, ['queued'], 'failed', { error: { code: 'enqueue_failed', message: 'the job could not be queued' } });
    throw new HttpProblem(503, 'queue_unavailable', 'the queue is unavailable; retry later', undefined, { 'retry-after': '5' });
  }

  function cachedDataset(id: string, tenant: string): Dataset | undefined {
    const hit = datasetCache.get(id);
    return hit && hit.tenant === tenant ? hit.meta : undefined;
  }

  /** The dataset read from Redis (then cached), or a 404 naming `datasetId`. */
  async function freshDataset(id: string, tenant: string): Promise<Dataset> {
    const meta = await svc.datasets.get(id, tenant);
    if (!meta) {
      datasetCache.delete(id);
      throw datasetNotFound(id);
    }
    if (!datasetCache.has(id)) {
      if (datasetCache.size >= DATASET_CACHE_ENTRIES) datasetCache.delete(datasetCache.keys().next().value!);
      datasetCache.set(id, { tenant, meta });
    }
    return meta;
  }

  /** The dataset's target values (classification specs are checked against the labels). */
  async function loadTargets(ds: Dataset): Promise<Float32Array | Float64Array> {
    const cached = targetsCache.get(ds.id);
    if (cached) return cached;
    const targets = await svc.datasets.loadTargets(ds);
    if (!targets) throw notFound('dataset', ds.id);
    if (targets.byteLength <= TARGETS_CACHE_MAX_BYTES) {
      if (targetsCache.size >= TARGETS_CACHE_ENTRIES) targetsCache.delete(targetsCache.keys().next().value!);
      targetsCache.set(ds.id, targets);
    }
    return targets;
  }

  /**
   * What a queued job that already ran keeps: the model of its last finished epoch, from its
   * checkpoint (an epoch end) or, when that checkpoint is mid-epoch, the epoch end kept beside it.
   */
  async function keptOfQueued(job: Job): Promise<KeptModel | null> {
    const store = svc.jobs.checkpoints();
    const saved = await store.load(job.id);
    if (!saved) return null;
    const c = saved.checkpoint.step === 0 ? saved.checkpoint : await store.loadKept(job.id, saved.checkpoint.epoch);
    const ds = await svc.datasets.get(job.datasetId);
    if (!c || !ds) return null;
    const featureNames = ds.columns?.length === ds.features ? ds.columns : undefined;
    try {
      return keptModel(job.spec as unknown as TrainingSpec, c, { rows: ds.rows, ...(featureNames ? { featureNames } : {}) });
    } catch {
      return null; // a checkpoint of another core version: nothing to keep
    }
  }

  app.post(
    '/v1/jobs',
    {
      preParsing: jsonBodyOnly('POST /v1/jobs'),
      schema: {
        tags: ['jobs'],
        operationId: 'createJob', summary: 'Submit a training job',
        headers: SubmitHeadersSchema,
        body: JobSubmissionSchema,
        querystring: DryRunQuerySchema,
        response: { 200: JobEstimateSchema, 202: JobSchema, ...problemResponses(400, 404, 409, 415, 422, 429, 503) },
        'x-response-descriptions': {
          200: 'dryRun=true: the spec is valid; parameter count, FLOP, memory, estimated training seconds (from the throughput workers measured) and queue position. Nothing was queued',
          202: 'Job queued (Location: /v1/jobs/{id}); a replayed Idempotency-Key answers the same job with Idempotent-Replayed: true',
          404: 'datasetId names no dataset (errors[].path = datasetId)',
          409: 'A request with the same Idempotency-Key is still being processed; retry shortly',
          415: 'The body is not application/json',
          422: 'The Idempotency-Key was already used with another body (a spec that does not fit its dataset, or is over MAX_PARAMS or MAX_TRAINING_COST, is a 400)',
          429: 'Rate limit, or the tenant already has MAX_ACTIVE_JOBS_PER_TENANT queued or running jobs (too_many_active_jobs); see Retry-After',
          503: 'Redis or the queue is unavailable; the job was not queued, retry after Retry-After',
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const { webhook, fromCheckpoint } = body;
      const spec = submissionSpec(body);
      const key = req.headers['idempotency-key'];
      // The one-step path (one Redis, no checkpoint to seed first) checks that the dataset still
      // exists in the script that creates the job, so it may read the metadata from the cache.
      const oneStep = !fromCheckpoint && !req.query.dryRun && !isCluster(svc.redis);
      const cached = oneStep ? cachedDataset(body.datasetId, req.tenant) : undefined;
      const ds = cached ?? (await freshDataset(body.datasetId, req.tenant));
      // Classification losses are checked against the labels themselves; mse reads no value.
      const targetValues = body.loss !== 'mse' ? (targetsCache.get(ds.id) ?? (await loadTargets(ds))) : undefined;
      if (webhook) await checkWebhookUrl(svc.config, 'webhook.url', webhook.url);
      const trainingSpec = toTrainingSpec(spec);
      const problems = validateSpec(
        trainingSpec,
        { id: ds.id, rows: ds.rows, features: ds.features, targets: ds.targets, targetKind: ds.targetKind, classes: ds.classes, targetValues },
        { maxParams: svc.config.MAX_PARAMS, maxTrainingCost: svc.config.MAX_TRAINING_COST },
      );
      if (problems.length > 0) {
        // A dataset deleted meanwhile is a 404 before anything about the spec.
        if (cached) await freshDataset(body.datasetId, req.tenant);
        throw invalidFields(problems);
      }
      const start = fromCheckpoint ? await checkpointToStartFrom(svc, req.tenant, body) : undefined;
      if (req.query.dryRun) return reply.code(200).send(await estimator.job(trainingSpec, ds));
      let id = newId('job');
      let claimed: string | undefined;
      if (key) {
        const claim = await claimIdempotencyKey(svc.redis, svc.keys, {
          tenant: req.tenant,
          scope: 'jobs',
          key,
          hash: bodyHash(body),
          resourceId: id,
          ttlSeconds: svc.config.IDEMPOTENCY_TTL_SECONDS,
        });
        if (claim.kind === 'conflict')
          throw new HttpProblem(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different body; use a new key for a new job');
        if (claim.kind === 'replay') {
          const job = await awaitIdempotentResource(() => svc.jobs.get(claim.resourceId, req.tenant));
          return reply.code(202).header('location', `/v1/jobs/${job.id}`).header('idempotent-replayed', 'true').send(job);
        }
        claimed = key;
      }
      const estimatedSeconds = estimator.secondsIfCached(trainingSpec, ds) ?? (await estimator.seconds(trainingSpec, ds));
      const max = svc.config.MAX_ACTIVE_JOBS_PER_TENANT;
      let job: Job | undefined;
      let queued = false;
      if (oneStep) {
        // One Redis: reservation, record, first event, dataset's active-job set and index in one
        // script; without an Idempotency-Key (whose claim names this id) BullMQ's add goes in the
        // same write, and is undone below when the script created nothing.
        const sameWrite = claimed ? null : (svc.queue.sameWriteNow ?? (await svc.queue.sameWrite()));
        const jobId = id;
        const batch = sameWrite ? { connection: sameWrite.connection, alongside: () => sameWrite.add(jobId) } : undefined;
        const one = await svc.jobs.createReserved(req.tenant, body, id, max, { estimatedSeconds }, batch);
        if (one?.kind === 'created') {
          job = one.job;
          if (one.after) {
            const [err, added] = one.after;
            if (err || typeof added !== 'string') await enqueueFailed(id);
            queued = true;
          }
        } else if (one) {
          // Nothing was created: a BullMQ job sent along would find no record (a worker skips it).
          if (one.after && !one.after[0]) await svc.queue.removeWaiting(id);
          if (one.kind === 'dataset_gone') {
            datasetCache.delete(ds.id);
            targetsCache.delete(ds.id);
            // The key is free again, as when the dataset read answers 404 before the claim.
            if (claimed) await releaseIdempotencyKey(svc.redis, svc.keys, { tenant: req.tenant, scope: 'jobs', key: claimed, resourceId: id });
            throw datasetNotFound(body.datasetId);
          }
          // At the cap: step by step below, under a new id when this one went to BullMQ.
          if (one.after) id = newId('job');
        }
      }
      if (!job) {
        // Step by step (a cluster, a checkpoint to seed, or the tenant at its cap: the reservation
        // then drops the places of jobs that ended and tries again).
        await reserveActiveJob(svc.redis, svc.keys, req.tenant, id, max);
        // The worker resumes from the seeded checkpoint as from one of the job's own.
        if (start) await svc.jobs.checkpoints().seed(id, start.checkpoint);
        job = await svc.jobs.create(req.tenant, body, id, { estimatedSeconds, ...(start ? { fromCheckpoint: start.record } : {}) });
      }
      if (!queued) {
        try {
          await svc.queue.enqueue(id);
        } catch {
          await enqueueFailed(id);
        }
      }
      req.log.info({ jobId: id, datasetId: ds.id }, 'job queued');
      // The job is built from the fields just written (JobSchema's shape): JSON.stringify gives what
      // the schema's serializer would, without checking the object against the schema again.
      return reply.code(202).header('location', `/v1/jobs/${id}`).type('application/json; charset=utf-8').serializer(JSON.stringify).send(job);
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'listJobs', summary: 'List jobs, newest first (cursor: `after` = last id of the previous page)',
        querystring: JobListQuerySchema,
        response: { 200: JobListSchema, ...problemResponses(400) },
        'x-response-descriptions': { 200: 'One page of jobs, newest first; `next` is the cursor of the next page (null at the end)' },
      },
    },
    async (req) => svc.jobs.list(req.tenant, req.query),
  );

  app.get(
    '/v1/jobs/:id',
    { schema: { tags: ['jobs'], operationId: 'getJob', summary: 'A job', params: IdParamsSchema, response: { 200: JobSchema, ...problemResponses(404) }, 'x-response-descriptions': { 200: 'The job, with its progress and, once finished, its result or error', 404: 'No job with this id' } } },
    async (req) => {
      const job = await svc.jobs.get(req.params.id, req.tenant);
      if (!job) throw notFound('job', req.params.id);
      return job;
    },
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob', summary: 'Cancel a job: a queued job at once (200), a running one within a batch (202)',
        params: IdParamsSchema,
        response: { 200: JobSchema, 202: JobSchema, ...problemResponses(404, 409) },
        'x-response-descriptions': {
          200: 'Cancelled at once (the job was queued): status cancelled',
          202: 'Cancel requested: the running job stops within one batch, then turns cancelled (terminal SSE event)',
          404: 'No job with this id',
          409: 'The job already finished (completed, failed or cancelled)',
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const job = await svc.jobs.get(id, req.tenant);
      if (!job) throw notFound('job', id);
      if (TERMINAL_STATUSES.includes(job.status)) throw new HttpProblem(409, 'job_finished', `job '${id}' is already ${job.status}`);
      // A job queued again after it ran (handed back, retry backoff) keeps the model of its last finished epoch.
      const kept = job.status === 'queued' && job.startedAt ? await keptOfQueued(job) : null;
      const done = await svc.jobs.finish(id, ['queued'], 'cancelled', {
        ...(kept ? { result: kept.result, artifacts: kept.artifacts, progress: kept.progress } : {}),
        error: { code: 'cancelled', message: kept ? `cancelled by request while queued to resume; ${kept.summary}` : 'cancelled by request' },
      });
      if (done.applied) {
        await svc.queue.removeWaiting(id);
        return reply.code(200).send((await svc.jobs.get(id))!);
      }
      if (done.previous !== 'running') throw new HttpProblem(409, 'job_finished', `job '${id}' is already ${done.previous}`);
      await svc.jobs.requestCancel(id);
      req.log.info({ jobId: id }, 'cancel requested');
      return reply.code(202).send((await svc.jobs.get(id))!);
    },
  );
};
