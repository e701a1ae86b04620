/**
 * /metrics and Bull Board on the real service (npm start: API + worker, real Redis), with the
 * histogram figures checked against the job's own per-epoch history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonsCsv, type Stack, startStack } from './stack.js';
import { openSse } from '../helpers/sse-client.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

let stack: Stack;

/** Parses the Prometheus text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${stack.url}/metrics`);
  expect(res.status).toBe(200);
  return parseMetrics(await res.text());
}

async function api<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: T }> {
  const isJson = body !== undefined && typeof body !== 'string';
  const res = await fetch(stack.url + path, { method, headers: { ...(isJson ? { 'content-type': 'application/json' } : {}), ...headers }, body: isJson ? JSON.stringify(body) : (body as string | undefined) });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as T };
}

const spec = (datasetId: string, epochs: number, layers = [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }], batchSize = 16) => ({
  datasetId,
  model: { layers },
  loss: 'softmax_cross_entropy',
  optimizer: { type: 'adam', learningRate: 0.01 },
  epochs,
  batchSize,
  seed: 1,
});

beforeAll(async () => {
  stack = await startStack({ env: { PROGRESS_INTERVAL_MS: '20' } });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('GET /metrics', () => {
  let datasetId: string;

  it('is Prometheus text with every family, at zero on a fresh service', async () => {
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseMetrics(await res.text());
    for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed']) expect(m.get(`trainer_queue_jobs{state="${state}"}`)).toBe(0);
    for (const outcome of ['completed', 'failed', 'cancelled']) expect(m.get(`trainer_jobs_finished_total{outcome="${outcome}"}`)).toBe(0);
    expect(m.get('trainer_sse_open_streams')).toBe(0);
    expect(m.get('trainer_training_samples_per_second')).toBe(0);
    expect(m.get('trainer_epoch_duration_seconds_count')).toBe(0);
    expect(m.has('trainer_process_resident_memory_bytes')).toBe(true);
  });

  it('while a job runs with a client on its SSE stream: active 1, one open stream, samples/s > 0; cancel counts as cancelled', async () => {
    const up = await api('POST', '/v1/datasets?name=moons&target=label', moonsCsv(400, 5).csv, { 'content-type': 'text/csv' });
    expect(up.status).toBe(201);
    datasetId = up.json.id;
    const big = [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }, { units: 2, activation: 'softmax' }];
    const sub = await api('POST', '/v1/jobs', spec(datasetId, 5000, big, 4));
    expect(sub.status).toBe(202);
    const id = sub.json.id;
    // a raw SSE client that stays open until the terminal event
    const stream = openSse(`${stack.url}/v1/jobs/${id}/events`, { timeoutMs: 120_000 });
    try {
      await waitFor('a progress event', () => stream.events().some((e) => e.event === 'progress'));
      const m = await scrape();
      expect(m.get('trainer_sse_open_streams')).toBe(1);
      expect(m.get('trainer_queue_jobs{state="active"}')).toBe(1);
      expect(m.get('trainer_training_jobs_running')).toBe(1);
      expect(m.get('trainer_training_samples_per_second')).toBeGreaterThan(0);
    } finally {
      // never leave the 5000-epoch job holding the only worker
      expect((await api('POST', `/v1/jobs/${id}/cancel`)).status).toBeLessThan(300);
    }
    expect((await withDeadline('the stream to end', stream.done, 30_000)).closedByServer).toBe(true);
    const after = await waitFor('cancelled to be counted', async () => {
      const s = await scrape();
      return s.get('trainer_jobs_finished_total{outcome="cancelled"}') === 1 && s;
    });
    expect(after.get('trainer_sse_open_streams')).toBe(0);
    expect(after.get('trainer_jobs_finished_total{outcome="completed"}')).toBe(0);
    // a cancelled job contributes no epochs to the histogram
    expect(after.get('trainer_epoch_duration_seconds_count')).toBe(0);
  });

  it('a completed job adds its epochs to the histogram: count, sum and buckets match its /metrics history', async () => {
    const sub = await api('POST', '/v1/jobs', spec(datasetId, 25));
    const id = sub.json.id;
    await waitFor('completion', async () => (await api('GET', `/v1/jobs/${id}`)).json.status === 'completed');
    const { json: job } = await api('GET', `/v1/jobs/${id}`);
    const { json: metrics } = await api<{ history: { durationMs: number }[] }>('GET', `/v1/jobs/${id}/metrics`);
    const secs = metrics.history.map((e) => e.durationMs / 1000);
    expect(secs).toHaveLength(25);
    const m = await waitFor('completed to be counted', async () => {
      const s = await scrape();
      return s.get('trainer_jobs_finished_total{outcome="completed"}') === 1 && s;
    });
    expect(m.get('trainer_epoch_duration_seconds_count')).toBe(25);
    expect(m.get('trainer_epoch_duration_seconds_sum')).toBeCloseTo(secs.reduce((a, b) => a + b, 0), 9);
    for (const le of ['0.001', '0.005', '0.01', '0.05', '0.1', '1']) {
      expect(m.get(`trainer_epoch_duration_seconds_bucket{le="${le}"}`), `le=${le}`).toBe(secs.filter((s) => s <= Number(le)).length);
    }
    expect(m.get('trainer_epoch_duration_seconds_bucket{le="+Inf"}')).toBe(25);
    expect(m.get('trainer_job_samples_per_second_count')).toBe(1);
    expect(m.get('trainer_job_samples_per_second_sum')).toBeCloseTo(job.result.samplesPerSecond, 6);
    expect(m.get('trainer_training_jobs_running')).toBe(0);
  });

  it('times HTTP requests by route pattern and status, leaving out SSE streams', async () => {
    expect((await api('GET', '/v1/jobs/job_missing')).status).toBe(404);
    const m = await scrape();
    expect(m.get('trainer_http_request_duration_seconds_count{method="POST",route="/v1/jobs",status_code="202"}')).toBe(2);
    expect(m.get('trainer_http_request_duration_seconds_count{method="POST",route="/v1/datasets",status_code="201"}')).toBe(1);
    expect(m.get('trainer_http_request_duration_seconds_count{method="GET",route="/v1/jobs/:id",status_code="404"}')).toBe(1);
    expect([...m.keys()].some((k) => k.includes('/events'))).toBe(false);
  });
});

describe('Bull Board', () => {
  it('serves its page and its API lists the training queue with our jobs', async () => {
    const page = await fetch(`${stack.url}/admin/queues`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('static/js/');
    // its own CSP: same origin only, inline styles allowed for its UI, no external fonts
    expect(page.headers.get('content-security-policy')).toBe("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'");
    const { status, json } = await api('GET', '/admin/queues/api/queues');
    expect(status).toBe(200);
    const q = json.queues.find((x: { name: string }) => x.name === 'training');
    expect(q).toBeDefined();
    expect(q.counts).toMatchObject({ active: 0, waiting: 0 });
  });
});
