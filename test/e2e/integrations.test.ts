import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moons, moonsSpec } from '../helpers/data.js';
import { maxAbsDiff, runOnnx, runTfjs } from '../helpers/model-runtimes.js';
import { freePort } from '../helpers/net.js';
import { startTs, stop, waitForHttp } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Webhooks, model export and checkpoints through `npm start` (API + worker process + its own
 * private Redis): the job is trained and ended by the worker's child, and the worker process
 * publishes and delivers the webhook.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'tsnn-integrations-'));
let child: ReturnType<typeof startTs>;
let base: string;
const got: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString('utf8')));
  req.on('end', () => {
    got.push({ path: req.url ?? '', headers: req.headers, body });
    res.writeHead(204).end();
  });
});
let hookBase: string;

async function api<T = Record<string, any>>(path: string, init?: { method?: string; body?: unknown }): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: init?.method ?? 'GET',
    ...(init?.body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) } : {}),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const finished = (id: string) => waitFor(`job ${id}`, async () => {
  const j = await api(`/v1/jobs/${id}`);
  return ['completed', 'failed', 'cancelled'].includes(j.status) && j;
}, { timeoutMs: 60_000 });
const verify = (secret: string, r: (typeof got)[number]) =>
  new Webhook(secret).verify(r.body, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) }) as { type: string; data: Record<string, unknown> };

beforeAll(async () => {
  const hookPort = await freePort();
  await new Promise<void>((r) => receiver.listen(hookPort, '127.0.0.1', r));
  hookBase = `http://127.0.0.1:${hookPort}`;
  const [port, redisPort] = [await freePort(), await freePort()];
  child = startTs('scripts/start.ts', {
    PORT: String(port), HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_DATA_DIR: dataDir, DATA_DIR: join(dataDir, 'blobs'),
    LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '1', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '200,200', CHECKPOINTS_KEPT: '2', WEBHOOK_PROGRESS_INTERVAL_MS: '0',
  });
  base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/readyz`);
});
afterAll(async () => {
  if (child) await stop(child, 20_000);
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start: webhooks, export and checkpoints end to end', () => {
  it('a job trained by the worker: signed webhooks to a registered endpoint and to its spec webhook; ONNX and TF.js exports predict like /predict; continuing from its checkpoint matches the uninterrupted run', async () => {
    const rows = moons(120);
    const ds = await api('/v1/datasets', { method: 'POST', body: { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) } });
    const ep = await api('/v1/webhooks', { method: 'POST', body: { url: `${hookBase}/endpoint`, events: ['completed'] } });
    const { secret: defaultSecret } = await api('/v1/webhooks/default/secret');

    const job = await api('/v1/jobs', { method: 'POST', body: { ...moonsSpec(ds.id, 4), webhook: { url: `${hookBase}/spec`, events: ['completed', 'progress'] } } });
    const done = await finished(job.id);
    expect(done.status).toBe('completed');
    const [atEndpoint] = await waitFor('endpoint delivery', () => got.filter((g) => g.path === '/endpoint').length > 0 && got.filter((g) => g.path === '/endpoint'), { timeoutMs: 60_000 });
    const atSpecAll = await waitFor('spec deliveries', () => got.filter((g) => g.path === '/spec').length >= 4 && got.filter((g) => g.path === '/spec'), { timeoutMs: 60_000 });
    // job.progress came from the trainer child (epochs 1-3), job.completed from the worker process.
    const specTypes = atSpecAll.map((g) => verify(defaultSecret, g));
    expect(specTypes.filter((p) => p.type === 'job.progress').map((p) => p.data.epoch).sort()).toEqual([1, 2, 3]);
    const atSpec = atSpecAll.find((g) => verify(defaultSecret, g).type === 'job.completed')!;
    expect(verify(ep.secret, atEndpoint)).toMatchObject({ type: 'job.completed', data: { id: job.id, result: { weightsHash: done.result.weightsHash } } });
    expect(verify(defaultSecret, atSpec)).toMatchObject({ type: 'job.completed', data: { id: job.id } });
    expect(got.filter((g) => g.path === '/endpoint')).toHaveLength(1); // endpoints get no progress
    expect(atEndpoint.headers['webhook-id']).not.toBe(atSpec.headers['webhook-id']);
    await waitFor('delivery log', async () => (await api(`/v1/webhooks/${ep.id}/deliveries`)).items[0]?.status === 'succeeded', { timeoutMs: 60_000 });

    const probe = rows.slice(0, 40).map((r) => [r[0] + 0.03, r[1] - 0.02]);
    const predicted = await api(`/v1/jobs/${job.id}/predict`, { method: 'POST', body: { features: probe } });
    const onnx = new Uint8Array(await (await fetch(`${base}/v1/jobs/${job.id}/model?format=onnx`)).arrayBuffer());
    const onnxDiff = maxAbsDiff((await runOnnx(onnx, probe)).output, predicted.probabilities);
    const tfjsDiff = maxAbsDiff(await runTfjs(await api(`/v1/jobs/${job.id}/model?format=tfjs`), probe), predicted.probabilities);
    console.log(`npm start: max |onnx − /predict| = ${onnxDiff.toExponential(2)}, max |tfjs − /predict| = ${tfjsDiff.toExponential(2)}`);
    expect(onnxDiff).toBeLessThan(1e-5);
    expect(tfjsDiff).toBeLessThan(1e-5);

    const kept = await api(`/v1/jobs/${job.id}/checkpoints`);
    expect(kept.items.map((k: { epoch: number }) => k.epoch).slice(-2)).toEqual([3, 4]);
    const whole = await finished((await api('/v1/jobs', { method: 'POST', body: moonsSpec(ds.id, 7) })).id);
    const cont = await finished((await api('/v1/jobs', { method: 'POST', body: { ...moonsSpec(ds.id, 7), fromCheckpoint: { jobId: job.id } } })).id);
    expect(cont.fromCheckpoint).toEqual({ jobId: job.id, epoch: 4, optimizerReset: false });
    expect(cont.result.weightsHash).toBe(whole.result.weightsHash);
  });
});
