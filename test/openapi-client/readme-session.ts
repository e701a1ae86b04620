/**
 * The README's curl session (upload a CSV, submit a job, follow its status, predict) written as a
 * client of the generated types (`openapi/openapi.d.ts`, from openapi-typescript) and
 * openapi-fetch: the project's tsc type-checks it against the committed OpenAPI document, and
 * test/api/openapi-client.test.ts runs it against a real server. The `@ts-expect-error` lines
 * prove the types are precise (tsc fails if such a line type-checks).
 */
import createClient from 'openapi-fetch';
import type { components, paths } from '../../openapi/openapi.js';

type Job = components['schemas']['Job'];

export interface SessionResult {
  dataset: components['schemas']['Dataset'];
  submitted: Job;
  replayed: Job;
  finished: Job;
  predictions: components['schemas']['PredictResponse'];
  /** The problem of a request with a typo in a query parameter. */
  typo: components['schemas']['Problem'];
}

/** Runs the README session against `baseUrl`; `csv` is the dataset (header row, target `label`). */
export async function readmeSession(baseUrl: string, csv: string, opts: { idempotencyKey: string; timeoutMs?: number }): Promise<SessionResult> {
  const api = createClient<paths>({ baseUrl });

  // 1. Upload a CSV (the target column named by ?target=)
  const up = await api.POST('/v1/datasets', {
    params: { query: { name: 'tiny', target: 'label' } },
    body: csv,
    bodySerializer: (b) => b,
    headers: { 'content-type': 'text/csv' },
  });
  if (!up.data) throw new Error(`upload: ${up.response.status} ${JSON.stringify(up.error)}`);
  const dataset = up.data;

  // 2. Submit a job (202 + Location); the same Idempotency-Key and body return the same job
  const spec: components['schemas']['JobSubmission'] = {
    datasetId: dataset.id,
    model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
    loss: 'softmax_cross_entropy',
    optimizer: { type: 'adam', learningRate: 0.05 },
    epochs: 30,
    batchSize: 2,
    seed: 1,
  };
  const submit = () => api.POST('/v1/jobs', { params: { header: { 'idempotency-key': opts.idempotencyKey } }, body: spec });
  const first = await submit();
  // POST /v1/jobs answers a Job (202), or an estimate (200) only with ?dryRun=true.
  if (!first.data || !('id' in first.data)) throw new Error(`submit: ${first.response.status} ${JSON.stringify(first.error ?? first.data)}`);
  if (first.response.status !== 202 || first.response.headers.get('location') !== `/v1/jobs/${first.data.id}`) throw new Error('submit: expected 202 with Location');
  const again = await submit();
  if (!again.data) throw new Error(`replay: ${again.response.status}`);

  // 3. Its status, until it has finished
  let job: Job = first.data;
  for (const end = Date.now() + (opts.timeoutMs ?? 60_000); job.status === 'queued' || job.status === 'running'; ) {
    if (Date.now() > end) throw new Error(`job ${job.id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 100));
    const got = await api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } });
    if (!got.data) throw new Error(`status: ${got.response.status}`);
    job = got.data;
  }

  // 4. Predict (the stored normalization is applied to raw features)
  const p = await api.POST('/v1/jobs/{id}/predict', { params: { path: { id: job.id } }, body: { features: [[0.1, 0.85], [0.9, 0.15]] } });
  if (!p.data) throw new Error(`predict: ${p.response.status} ${JSON.stringify(p.error)}`);
  // a JSON body is answered in JSON (text/csv is the answer to a CSV body asking for it)
  if (typeof p.data === 'string') throw new Error('predict: a JSON body got a CSV answer');

  // A query parameter the route does not take: a typed client cannot even send it...
  // @ts-expect-error `limt` is not a query parameter of listJobs
  await api.GET('/v1/jobs', { params: { query: { limt: 1 } } });
  // ...and the server names it when it comes anyway (the problem is typed too).
  const typo = await api.GET('/v1/jobs', { params: { query: { limit: 1 } }, querySerializer: () => 'limt=1' });
  if (!typo.error) throw new Error(`typo: expected a problem, got ${typo.response.status}`);
  // @ts-expect-error a job has no `state` (it is `status`)
  void job.state;

  return { dataset, submitted: first.data, replayed: again.data as Job, finished: job, predictions: p.data, typo: typo.error };
}
