/** `trainer jobs model --format onnx|tfjs`, `jobs checkpoints` and `webhooks …` against npm start. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/http-client.js';
import { moonsSpec } from '../helpers/data.js';
import { maxAbsDiff, runOnnx, runTfjs } from '../helpers/model-runtimes.js';
import { freePort } from '../helpers/net.js';
import { moonsCsv, root, type Stack, startStack } from '../ops/stack.js';
import { waitFor, waitForState } from '../helpers/wait.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
let stack: Stack;
let dir: string;
let api: ApiClient;
let jobId: string;
const hits: string[] = [];
const receiver = createServer((req, res) => {
  hits.push(req.url ?? '');
  req.resume();
  req.on('end', () => res.writeHead(200).end());
});
let hookUrl: string;

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'src/cli/bin.mjs'), ...args], { cwd: dir, env: { ...process.env, TRAINER_URL: stack.url, TRAINER_CLI_FROM_SOURCE: '1' }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trainer-cli-int-'));
  const port = await freePort();
  await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${port}/hook`;
  stack = await startStack({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  api = new ApiClient({ url: stack.url });
  const ds = await api.post<{ id: string }>('/v1/datasets?target=label', moonsCsv(200, 3).csv, { headers: { 'content-type': 'text/csv' } });
  jobId = (await api.post<{ id: string }>('/v1/jobs', moonsSpec(ds.id, 3))).id;
  await waitForState(`job ${jobId} to complete`, () => api.get<{ status: string }>(`/v1/jobs/${jobId}`), (j) => j.status === 'completed', { timeoutMs: 60_000, intervalMs: 100 });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  receiver.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('trainer CLI: export, checkpoints, webhooks', () => {
  const probe = [[0.1, 0.8], [1.2, -0.3], [0.5, 0.2]];

  it('jobs model --format onnx -o writes ONNX that predicts like /predict; model --format tfjs -o writes model.json + weights.bin', async () => {
    const r = await cli(['jobs', 'model', jobId, '--format', 'onnx', '-o', 'm.onnx']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('ONNX');
    const predicted = await api.post<{ probabilities: number[][] }>(`/v1/jobs/${jobId}/predict`, { features: probe });
    expect(maxAbsDiff((await runOnnx(readFileSync(join(dir, 'm.onnx')), probe)).output, predicted.probabilities)).toBeLessThan(1e-5);

    const t = await cli(['model', jobId, '--format', 'tfjs', '-o', 'tfjs']);
    expect(t.code, t.stderr).toBe(0);
    expect(existsSync(join(dir, 'tfjs', 'weights.bin'))).toBe(true);
    const files = { 'model.json': JSON.parse(readFileSync(join(dir, 'tfjs', 'model.json'), 'utf8')), 'weights.bin': readFileSync(join(dir, 'tfjs', 'weights.bin')).toString('base64') };
    expect(maxAbsDiff(await runTfjs({ files }, probe), predicted.probabilities)).toBeLessThan(1e-5);

    const bad = await cli(['jobs', 'model', jobId, '--format', 'pmml']);
    expect(bad.code).toBe(2);
  });

  it('jobs checkpoints lists the kept epochs', async () => {
    const r = await cli(['jobs', 'checkpoints', jobId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).items.map((k: { epoch: number }) => k.epoch)).toEqual([1, 2, 3]);
    const human = await cli(['jobs', 'checkpoints', jobId]);
    expect(human.stdout).toMatch(/^EPOCH\s+LOSS/);
  });

  it('webhooks create (secret on stderr once) / list / deliveries / secret / delete', async () => {
    const c = await cli(['webhooks', 'create', hookUrl, '--events', 'cancelled', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const w = JSON.parse(c.stdout);
    expect(w.secret).toMatch(/^whsec_/);
    const list = await cli(['webhooks', 'list']);
    expect(list.stdout).toContain(w.id);
    expect(list.stdout).not.toContain('whsec_');
    // A queued job cancelled: the worker process delivers job.cancelled.
    const queued = (await api.post<{ id: string }>('/v1/jobs', { ...moonsSpec((await api.get<{ datasetId: string }>(`/v1/jobs/${jobId}`)).datasetId, 2000) })).id;
    await api.post(`/v1/jobs/${queued}/cancel`);
    await waitFor('the job.cancelled delivery at /hook', () => hits.length > 0, { timeoutMs: 20_000, intervalMs: 100 });
    expect(hits).toEqual(['/hook']);
    const d = await cli(['webhooks', 'deliveries', w.id]);
    expect(d.stdout).toMatch(/job\.cancelled\s+succeeded\s+200/);
    expect((await cli(['webhooks', 'secret'])).stdout).toMatch(/^whsec_/);
    const bad = await cli(['webhooks', 'create', hookUrl, '--events', 'done']);
    expect(bad.code).toBe(2);
    expect((await cli(['webhooks', 'delete', w.id])).code).toBe(0);
    expect((await cli(['webhooks', 'get', w.id])).code).toBe(1);
  });

  it('train --from-checkpoint <job>:<epoch> --webhook <url> continues from a kept checkpoint and posts the job event', async () => {
    const datasetId = (await api.get<{ datasetId: string }>(`/v1/jobs/${jobId}`)).datasetId;
    const r = await cli(['train', '--dataset', datasetId, '--layers', '16:tanh,2:softmax', '--optimizer', 'adam', '--lr', '0.01', '--epochs', '5', '--batch-size', '16', '--seed', '3',
      '--from-checkpoint', `${jobId}:2`, '--webhook', hookUrl.replace('/hook', '/train-hook'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const list = await api.get<{ items: { id: string; fromCheckpoint?: { jobId: string; epoch: number } }[] }>('/v1/jobs?limit=5');
    const cont = list.items.find((j) => j.fromCheckpoint?.jobId === jobId)!;
    expect(cont.fromCheckpoint).toEqual({ jobId, epoch: 2, optimizerReset: false });
    await waitFor('the job event at /train-hook', () => hits.includes('/train-hook'), { timeoutMs: 20_000, intervalMs: 100, context: () => hits });
    expect((await cli(['train', '--dataset', datasetId, '--from-checkpoint', 'a:b:c'])).code).toBe(2);
  });
});
