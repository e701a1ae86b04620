import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkWebhookUrl } from './webhooks.js';
import { IdParamsSchema, problemResponses } from '../../schemas/common.js';
import type { Dataset } from '../../schemas/dataset.js';
import {
  SweepListQuerySchema,
  SweepListSchema,
  SweepSchema,
  SweepSubmissionSchema,
  SweepTrialsSchema,
  type Sweep,
  type SweepSubmission,
} from '../../schemas/sweep.js';
import { validateSpec } from '../../core/spec.js';
import { JobSubmissionSchema, toTrainingSpec, type JobSubmission } from '../../schemas/training-spec.js';
import { bodyHash, claimIdempotencyKey } from '../../storage/idempotency.js';
import { newId } from '../../storage/ids.js';
import type { SweepMeta } from '../../storage/sweep-store.js';
import { DEFAULT_MAX_CONCURRENT, SweepScheduler } from '../../sweeps/scheduler.js';
import { expandTrials, SearchSpaceError, type TrialParams } from '../../sweeps/search-space.js';
import { sweepTrials, sweepView, trialsCsv } from '../../sweeps/view.js';
import { IdempotencyKeyHeader, JsonOrCsvHeadersSchema, negotiateOr406 } from '../headers.js';
import { DryRunQuerySchema, SweepEstimateSchema } from '../../schemas/estimate.js';
import { Estimator } from '../estimate.js';
import { HttpProblem, invalidField, jsonBodyOnly, notFound, type FieldError } from '../problem.js';
import { awaitIdempotentResource } from '../idempotency-replay.js';

const SubmitHeadersSchema = z.looseObject({
  'idempotency-key': IdempotencyKeyHeader.optional().describe('Same key and body → same sweep'),
});

/** Shows a trial's parameters in a message: `optimizer.type=adam, optimizer.learningRate=0.01`. */
const paramsText = (p: TrialParams) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');

/**
 * Every trial of `body` as a job submission, each checked as `POST /v1/jobs` checks a job (schema,
 * fit to the dataset, caps, the core's own validation) and against the sweep metric. A 400
 * names the trial (`trials.3.optimizer.learningRate`) and its parameters.
 */
function checkedTrials(body: SweepSubmission, ds: Dataset, limits: { maxParams: number; maxTrainingCost: number }, targets: ArrayLike<number> | undefined): { params: TrialParams; spec: JobSubmission }[] {
  let all: TrialParams[];
  try {
    all = expandTrials(body);
  } catch (err) {
    if (err instanceof SearchSpaceError) throw invalidField(err.path, err.message);
    throw err;
  }
  const trialError = (i: number, params: TrialParams, ...problems: Pick<FieldError, 'path' | 'message'>[]): HttpProblem => {
    const errors = problems.map((e) => ({
      path: `trials.${i}.${e.path === '(root)' ? '' : e.path}`.replace(/\.$/, ''),
      message: `trial ${i} (${paramsText(params)}): ${e.message}`,
      in: 'body' as const,
    }));
    return new HttpProblem(400, 'validation_failed', `${errors[0].path}: ${errors[0].message}`, errors);
  };
  return all.map((params, i) => {
    let spec: JobSubmission;
    try {
      spec = SweepScheduler.trialSubmission({ datasetId: body.datasetId, spec: body }, params);
    } catch (err) {
      if (err instanceof SearchSpaceError) throw invalidField(err.path, err.message);
      throw err;
    }
    const parsed = JobSubmissionSchema.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw trialError(i, params, { path: issue.path.join('.') || '(root)', message: issue.message });
    }
    spec = parsed.data;
    const metric = body.metric.name;
    if ((metric === 'valLoss' || metric === 'valAccuracy') && !(spec.validationSplit && spec.validationSplit > 0))
      throw trialError(i, params, { path: 'validationSplit', message: `metric ${metric} needs a validation split; set base.validationSplit (e.g. 0.2) or use metric 'loss'` });
    if (metric === 'valAccuracy' && spec.loss === 'mse') throw trialError(i, params, { path: 'loss', message: "metric valAccuracy needs a classification loss; use metric 'valLoss' for mse" });
    if (body.earlyStop && body.earlyStop.minEpochs >= spec.epochs)
      throw trialError(i, params, { path: 'epochs', message: `earlyStop.minEpochs (${body.earlyStop.minEpochs}) must be below the trial's epochs (${spec.epochs}), or no rung is ever reached` });
    const { datasetId: _d, maxDurationSeconds: _m, ...core } = spec;
    const problems = validateSpec(
      toTrainingSpec(core),
      { id: ds.id, rows: ds.rows, features: ds.features, targets: ds.targets, targetKind: ds.targetKind, classes: ds.classes, targetValues: core.loss !== 'mse' ? targets : undefined },
      limits,
    );
    if (problems.length > 0) throw trialError(i, params, ...problems.map((p) => ({ path: p.path || '(root)', message: p.message })));
    return { params, spec };
  });
}

/** `POST /v1/sweeps`, `GET /v1/sweeps`, `GET /v1/sweeps/{id}`, `…/trials`, `POST …/cancel` (events: job-events.ts). */
export const sweepRoutes: FastifyPluginAsyncZod = async (app) => {
  const { svc } = app;
  const estimator = new Estimator(svc);
  const scheduler = new SweepScheduler({
    redis: svc.redis,
    keys: svc.keys,
    jobs: svc.jobs,
    sweeps: svc.sweeps,
    queue: svc.queue,
    maxActivePerTenant: svc.config.MAX_ACTIVE_JOBS_PER_TENANT,
    log: (obj, msg) => app.log.info(obj, msg),
    onSweepEnd: (sweep) => svc.webhookQueue.sweepEnded(sweep),
  });

  async function loadTargets(ds: Dataset): Promise<Float32Array | Float64Array> {
    const targets = await svc.datasets.loadTargets(ds);
    if (!targets) throw notFound('dataset', ds.id);
    return targets;
  }

  async function ownSweep(id: string, tenant: string): Promise<SweepMeta> {
    const meta = await svc.sweeps.meta(id, tenant);
    if (!meta) throw notFound('sweep', id);
    return meta;
  }

  app.post(
    '/v1/sweeps',
    {
      preParsing: jsonBodyOnly('POST /v1/sweeps'),
      schema: {
        tags: ['sweeps'],
        operationId: 'createSweep',
        summary: 'Start a hyperparameter sweep: one job per trial, at most maxConcurrent at once, optionally pruned by ASHA',
        headers: SubmitHeadersSchema,
        body: SweepSubmissionSchema,
        querystring: DryRunQuerySchema,
        response: { 200: SweepEstimateSchema, 202: SweepSchema, ...problemResponses(400, 404, 409, 415, 422, 429, 503) },
        'x-response-descriptions': {
          200: 'dryRun=true: every trial is valid; per-trial and total FLOP, memory, estimated seconds (from the throughput workers measured) and queue position. Nothing was queued',
          202: 'Sweep started (Location: /v1/sweeps/{id}); its first trials are queued. A replayed Idempotency-Key answers the same sweep with Idempotent-Replayed: true',
          400: 'Invalid body, a grid over its cap or over a distribution, or a trial that does not fit the dataset (errors[].path = trials.N.<field>, the message names the trial\'s parameters)',
          404: 'datasetId names no dataset',
          409: 'A request with the same Idempotency-Key is still being processed; retry shortly',
          415: 'The body is not application/json',
          422: 'The Idempotency-Key was already used with another body',
          429: 'Rate limit',
          503: 'Redis or the queue is unavailable',
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const ds = await svc.datasets.get(body.datasetId, req.tenant);
      if (!ds)
        throw new HttpProblem(404, 'dataset_not_found', `dataset '${body.datasetId}' does not exist; upload it with POST /v1/datasets`, [
          { path: 'datasetId', message: 'no such dataset', in: 'body' },
        ]);
      // Classification losses are checked against the labels themselves; mse reads no value.
      const needs = body.base.loss !== 'mse' || Object.keys(body.parameters).includes('loss');
      const targets = needs ? await loadTargets(ds) : undefined;
      if (body.webhook) await checkWebhookUrl(svc.config, 'webhook.url', body.webhook.url);
      const trials = checkedTrials(body, ds, { maxParams: svc.config.MAX_PARAMS, maxTrainingCost: svc.config.MAX_TRAINING_COST }, targets);
      if (req.query.dryRun) {
        const specs = trials.map(({ spec: { datasetId: _d, maxDurationSeconds: _m, ...core } }) => toTrainingSpec(core));
        return reply.code(200).send(await estimator.sweep(specs, ds, body.maxConcurrent ?? DEFAULT_MAX_CONCURRENT));
      }
      const id = newId('sw');
      const key = req.headers['idempotency-key'];
      if (key) {
        const claim = await claimIdempotencyKey(svc.redis, svc.keys, { tenant: req.tenant, scope: 'sweeps', key, hash: bodyHash(body), resourceId: id, ttlSeconds: svc.config.IDEMPOTENCY_TTL_SECONDS });
        if (claim.kind === 'conflict') throw new HttpProblem(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different body; use a new key for a new sweep');
        if (claim.kind === 'replay') {
          const s = await awaitIdempotentResource(() => svc.sweeps.meta(claim.resourceId, req.tenant));
          return reply.code(202).header('location', `/v1/sweeps/${s.id}`).header('idempotent-replayed', 'true').send(await sweepView(svc.sweeps, svc.jobs, s));
        }
      }
      const meta = await svc.sweeps.create(req.tenant, id, body, trials.map((t) => ({ params: t.params, jobId: newId('job') })));
      // The sweep exists from here on: a queue outage while its first trials are queued leaves them
      // to the workers' periodic reconciliation instead of failing the request.
      await scheduler.settle(id).catch((err: unknown) => req.log.warn({ sweepId: id, err: String(err) }, 'sweep trials not queued yet; the workers will'));
      req.log.info({ sweepId: id, trials: trials.length, datasetId: ds.id }, 'sweep started');
      return reply.code(202).header('location', `/v1/sweeps/${id}`).send(await sweepView(svc.sweeps, svc.jobs, meta));
    },
  );

  app.get(
    '/v1/sweeps',
    {
      schema: {
        tags: ['sweeps'],
        operationId: 'listSweeps',
        summary: 'List sweeps, newest first (cursor: `after` = last id of the previous page)',
        querystring: SweepListQuerySchema,
        response: { 200: SweepListSchema, ...problemResponses(400) },
        'x-response-descriptions': { 200: 'One page of sweeps (without their trials tables), newest first; `next` is the cursor of the next page (null at the end)' },
      },
    },
    async (req) => {
      const page = await svc.sweeps.list(req.tenant, req.query);
      const items = [];
      for (const m of page.items) {
        const { trials: _t, rungs: _r, ...rest } = await sweepView(svc.sweeps, svc.jobs, m);
        items.push(rest);
      }
      return { items, next: page.next };
    },
  );

  app.get(
    '/v1/sweeps/:id',
    {
      schema: {
        tags: ['sweeps'],
        operationId: 'getSweep',
        summary: 'A sweep: status, trials table (params, status, metric, epochs run), best trial, ASHA rung decisions',
        params: IdParamsSchema,
        response: { 200: SweepSchema, ...problemResponses(404) },
        'x-response-descriptions': { 200: 'The sweep', 404: 'No sweep with this id' },
      },
    },
    async (req): Promise<Sweep> => sweepView(svc.sweeps, svc.jobs, await ownSweep(req.params.id, req.tenant)),
  );

  app.get(
    '/v1/sweeps/:id/trials',
    {
      schema: {
        tags: ['sweeps'],
        operationId: 'listSweepTrials',
        summary: 'The trials table as JSON, or CSV with Accept: text/csv (one column per parameter)',
        params: IdParamsSchema,
        headers: JsonOrCsvHeadersSchema,
        response: {
          200: { description: 'Trials (JSON; CSV with Accept: text/csv)', content: { 'application/json': { schema: SweepTrialsSchema }, 'text/csv': { schema: z.string() } } },
          ...problemResponses(404, 406),
        },
        'x-response-descriptions': { 404: 'No sweep with this id', 406: 'Accept names neither application/json nor text/csv' },
      },
    },
    async (req, reply) => {
      const media = negotiateOr406(req.headers.accept, ['application/json', 'text/csv'] as const);
      const meta = await ownSweep(req.params.id, req.tenant);
      const trials = await sweepTrials(svc.sweeps, svc.jobs, meta);
      if (media === 'text/csv')
        return reply.type('text/csv; charset=utf-8').serializer((s: unknown) => s as string).send(trialsCsv(trials, Object.keys(meta.spec.parameters)));
      return reply.type('application/json').send({ sweepId: meta.id, trials });
    },
  );

  app.post(
    '/v1/sweeps/:id/cancel',
    {
      schema: {
        tags: ['sweeps'],
        operationId: 'cancelSweep',
        summary: 'Cancel a sweep: no trial starts any more, queued trials are cancelled, running ones stop within a batch',
        params: IdParamsSchema,
        response: { 202: SweepSchema, ...problemResponses(404, 409) },
        'x-response-descriptions': {
          202: 'Cancelled (terminal event sweep.cancelled); running trials end cancelled within one batch',
          404: 'No sweep with this id',
          409: 'The sweep already ended',
        },
      },
    },
    async (req, reply) => {
      const meta = await ownSweep(req.params.id, req.tenant);
      if (meta.status !== 'running' || !(await scheduler.cancel(meta.id))) throw new HttpProblem(409, 'sweep_finished', `sweep '${meta.id}' is already ${(await svc.sweeps.meta(meta.id))?.status ?? meta.status}`);
      req.log.info({ sweepId: meta.id }, 'sweep cancelled');
      return reply.code(202).send(await sweepView(svc.sweeps, svc.jobs, (await svc.sweeps.meta(meta.id))!));
    },
  );
};
