/**
 * The `trainer` bin against the real service (npm start: API + worker processes, real Redis):
 * upload, train with a progress bar, jobs list/watch/cancel, predict, model download, --json,
 * exit codes, and SSE resume through a proxy that cuts the stream mid-run.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/http-client.js';
import { formatNumber } from '../../src/cli/progress-bar.js';
import { streamEvents } from '../../src/cli/sse-client.js';
import { moonsCsv, root, type Stack, startStack } from '../ops/stack.js';
import { waitForState } from '../helpers/wait.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let stack: Stack;
let dir: string;
const moons = moonsCsv(400, 11);

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'src/cli/bin.mjs'), ...args],
      { cwd: dir, env: { ...process.env, TRAINER_URL: stack.url, TRAINER_CLI_FROM_SOURCE: '1', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const json = <T = any>(r: Run): T => {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trainer-cli-'));
  writeFileSync(join(dir, 'moons.csv'), moons.csv);
  stack = await startStack({ env: { PROGRESS_INTERVAL_MS: '20' } });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('trainer CLI against a running server', () => {
  let datasetId: string;
  let jobId: string;

  it('datasets upload prints the id; --json prints the dataset', async () => {
    const human = await cli(['datasets', 'upload', 'moons.csv', '--target', 'label', '--name', 'moons-h']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.trim()).toMatch(/^\S+$/);
    expect(human.stderr).toContain('400 rows, 2 features');
    expect(human.stderr).toContain('2 classes');
    // the byte progress (one line per quarter on a pipe) and the ingest rate
    expect(human.stderr).toMatch(/uploading \S+ KiB\/\S+ KiB .* 100% \S+ [KMG]iB\/s/);
    expect(human.stderr).toMatch(/KiB in \d+\.\d s \(\S+ [KMG]iB\/s\)/);
    const r = await cli(['datasets', 'upload', 'moons.csv', '--target', 'label', '--json']);
    const ds = json(r);
    expect(ds).toMatchObject({ name: 'moons', rows: 400, features: 2, classes: 2, targetKind: 'integer' });
    datasetId = ds.id;
    const list = json<{ id: string }[]>(await cli(['datasets', 'list', '--json']));
    expect(list.map((d) => d.id)).toEqual(expect.arrayContaining([human.stdout.trim(), datasetId]));
  });

  it('train follows the stream with a progress bar and ends with the result; the bar shows the final loss', async () => {
    const r = await cli(['train', '--dataset', datasetId, '--layers', '16:tanh,2:softmax', '--optimizer', 'adam', '--lr', '0.02', '--epochs', '40', '--batch-size', '16', '--validation-split', '0.2', '--seed', '3']);
    expect(r.code, r.stderr).toBe(0);
    const [id, status] = r.stdout.trim().split(/\s+/);
    expect(status).toBe('completed');
    jobId = id;
    // stderr is not a TTY here: one line per finished epoch, the last at 40/40 and 100%
    const bars = r.stderr.split('\n').filter((l) => l.startsWith('epoch '));
    expect(bars.length).toBeGreaterThan(1);
    // events are throttled server-side; the skipped epochs are filled in from /metrics: each epoch exactly once
    const epochNums = bars.map((l) => Number(/^epoch (\d+)\/40 /.exec(l)?.[1]));
    expect([...epochNums].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const last = bars.find((l) => l.startsWith('epoch 40/40 '))!;
    expect(last).toMatch(/^epoch 40\/40 .* 100% loss /);
    const job = json(await cli(['jobs', 'get', id, '--json']));
    expect(job.status).toBe('completed');
    expect(job.spec).toMatchObject({ loss: 'softmax_cross_entropy', epochs: 40, batchSize: 16, optimizer: { type: 'adam', learningRate: 0.02 } });
    // the last epoch's progress loss is the result loss, printed with 4 significant digits
    expect(last).toContain(`loss ${formatNumber(job.result.loss)}`);
    expect(r.stderr).toContain(`completed: loss ${formatNumber(job.result.loss)}`);
  });

  it('train --spec file with flag overrides, --json prints the final job', async () => {
    const spec = { model: { layers: [{ units: 8, activation: 'relu' }, { units: 2, activation: 'softmax' }], init: 'he_normal' }, loss: 'softmax_cross_entropy', optimizer: { type: 'momentum', learningRate: 0.05, momentum: 0.9 }, epochs: 5, batchSize: 32 };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const r = await cli(['train', '--dataset', datasetId, '--spec', 'spec.json', '--epochs', '7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // --json: no bar
    const job = json(r);
    expect(job.status).toBe('completed');
    expect(job.spec).toMatchObject({ epochs: 7, batchSize: 32, model: { init: 'he_normal' }, optimizer: { type: 'momentum', learningRate: 0.05, momentum: 0.9 } });
    expect(job.result.epochsRun).toBe(7);
  });

  it('jobs list (table and --json) and jobs watch of a finished job (replay, exit 0)', async () => {
    const table = await cli(['jobs', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+DATASET\s+OPTIMIZER\s+EPOCH\s+LOSS/);
    expect(table.stdout).toContain(jobId);
    const page = json<{ items: { id: string; status: string }[]; next: string | null }>(await cli(['jobs', 'list', '--json', '--status', 'completed']));
    expect(page.items.length).toBe(2);
    expect(page.items.every((j) => j.status === 'completed')).toBe(true);
    // --json prints the API's page with its cursor; --after follows it
    const first = json<{ items: { id: string }[]; next: string | null }>(await cli(['--json', 'jobs', 'list', '--status', 'completed', '--limit', '1']));
    expect(first.items).toHaveLength(1);
    expect(typeof first.next).toBe('string');
    const second = json<{ items: { id: string }[] }>(await cli(['jobs', 'list', '--json', '--status', 'completed', '--limit', '1', '--after', first.next!]));
    expect(second.items.map((j) => j.id)).toEqual([page.items[1].id]);
    // human jobs get: a readable summary, not just "<id> <status>"
    const get = await cli(['jobs', 'get', jobId]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/^id: +\S+\nstatus: +completed\n/);
    expect(get.stdout).toMatch(/^dataset: +\S+$/m);
    expect(get.stdout).toMatch(/^optimizer: +adam lr 0\.02$/m);
    expect(get.stdout).toMatch(/^epochs: +40, batch size 16$/m);
    expect(get.stdout).toMatch(/^loss: +\d/m);
    expect(get.stdout).toMatch(/^accuracy: +\d+\.\d\d%/m);
    expect(get.stdout).toMatch(/^weights hash: +\S+$/m);
    const w = await cli(['jobs', 'watch', jobId]);
    expect(w.code).toBe(0);
    expect(w.stdout.trim()).toBe(`${jobId} completed`);
    expect(w.stderr).toMatch(/epoch 40\/40/);
  });

  it('global options work before the command; --api-key too', async () => {
    const r = await cli(['--url', stack.url, 'jobs', 'list'], { TRAINER_URL: 'http://127.0.0.1:9' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(jobId);
    const k = await cli(['--api-key', 'x', '--json', 'jobs', 'list']);
    expect(k.code, k.stderr).toBe(0);
    expect(json(k).items.length).toBeGreaterThan(0);
    const down = await cli(['--url', 'http://127.0.0.1:9', 'jobs', 'list']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach/);
  });

  it('a closed stdout pipe (| head) ends quietly: exit 0, no EPIPE stack', async () => {
    for (const args of [['model', jobId], ['jobs', 'list'], ['predict', jobId, join(dir, 'moons.csv')], ['--help']]) {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(root, 'src/cli/bin.mjs'), ...args], { cwd: dir, env: { ...process.env, TRAINER_URL: stack.url, TRAINER_CLI_FROM_SOURCE: '1' } });
        // the reader goes away before the CLI writes anything (like head -c 0)
        child.stdout.destroy();
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.stderr, args.join(' ')).not.toMatch(/EPIPE|Unhandled/);
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it('predict classifies the training moons (accuracy > 0.9), human and --json', async () => {
    const r = await cli(['predict', jobId, 'moons.csv', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { predictions, probabilities } = json<{ predictions: number[]; probabilities: number[][] }>(r);
    expect(predictions).toHaveLength(400);
    expect(probabilities[0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const acc = predictions.filter((p, i) => p === moons.labels[i]).length / 400;
    expect(acc).toBeGreaterThan(0.9);
    const human = await cli(['predict', jobId, 'moons.csv']);
    expect(human.stderr).toContain('ignoring column "label"');
    const lines = human.stdout.trim().split('\n');
    expect(lines).toHaveLength(400);
    expect(lines.map((l) => Number(l.split('\t')[0]))).toEqual(predictions);
  });

  it('evaluate prints accuracy, per-class metrics and the confusion matrix; --json the metrics', async () => {
    const r = json<{ rows: number; accuracy: number; confusionMatrix: number[][]; perClass: { support: number }[] }>(await cli(['evaluate', jobId, datasetId, '--json']));
    expect(r.rows).toBe(400);
    expect(r.accuracy).toBeGreaterThan(0.9);
    expect(r.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(400);
    expect(r.perClass.map((c) => c.support)).toEqual([200, 200]);
    const human = await cli(['evaluate', jobId, datasetId]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/rows 400 {2}loss \S+ {2}accuracy \d+\.\d\d%/);
    expect(human.stdout).toMatch(/CLASS +PRECISION +RECALL +F1 +SUPPORT/);
    expect(human.stdout).toContain('confusion matrix (rows: true class, columns: predicted)');
    expect(human.stdout).toMatch(new RegExp(`true +1 +${r.confusionMatrix[1][0]} +${r.confusionMatrix[1][1]}`));
  });

  it("predict reads the file's header and the model's column names, not the job's dataset: another column order, dataset deleted", async () => {
    const ds = json(await cli(['datasets', 'upload', 'moons.csv', '--target', 'label', '--json']));
    const job = json(await cli(['train', '--dataset', ds.id, '--layers', '16:tanh,2:softmax', '--epochs', '20', '--json']));
    expect(job.status).toBe('completed');
    const model = JSON.parse((await cli(['model', job.id])).stdout);
    expect(model.featureNames).toEqual(['x', 'y']);
    const reference = json<{ predictions: number[] }>(await cli(['predict', job.id, 'moons.csv', '--json'])).predictions;
    expect(reference).toHaveLength(400);
    expect((await fetch(`${stack.url}/v1/datasets/${ds.id}`, { method: 'DELETE' })).status).toBe(204);
    // the same rows with the columns in another order: picked by name, so the same predictions
    writeFileSync(join(dir, 'reordered.csv'), 'label,y,x\n' + moons.features.map((f, i) => `${moons.labels[i]},${f[1]},${f[0]}`).join('\n') + '\n');
    const r = await cli(['predict', job.id, 'reordered.csv']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('ignoring column "label"');
    expect(r.stdout.trim().split('\n').map((l) => Number(l.split('\t')[0]))).toEqual(reference);
    // a file without one of the model's columns is refused by name
    writeFileSync(join(dir, 'no-y.csv'), 'x,label\n1,0\n');
    const bad = await cli(['predict', job.id, 'no-y.csv']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('the model takes columns x, y; the header (x, label) lacks y');
  });

  it('model -o writes the portable JSON whose hash is the job result', async () => {
    const r = await cli(['model', jobId, '-o', 'model.json']);
    expect(r.code, r.stderr).toBe(0);
    const model = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const job = json(await cli(['jobs', 'get', jobId, '--json']));
    expect(model).toMatchObject({ format: 'tsnn-model', inputSize: 2, classes: 2 });
    expect(model.weightsHash).toBe(job.result.weightsHash);
    expect(r.stderr).toContain(job.result.weightsHash);
  });

  it('jobs cancel stops a running job; watching it exits 4', async () => {
    const sub = await cli(['train', '--dataset', datasetId, '--layers', '64:relu,64:relu,2:softmax', '--epochs', '5000', '--batch-size', '4', '--detach']);
    expect(sub.code, sub.stderr).toBe(0);
    const id = sub.stdout.trim();
    const api = new ApiClient({ url: stack.url });
    await waitForState(`job ${id} running`, () => api.get<{ status: string }>(`/v1/jobs/${id}`), (j) => j.status === 'running', { timeoutMs: 30_000, intervalMs: 100 });
    const c = await cli(['jobs', 'cancel', id]);
    expect(c.code, c.stderr).toBe(0);
    const w = await cli(['jobs', 'watch', id]);
    expect(w.code).toBe(4);
    expect(w.stdout.trim()).toBe(`${id} cancelled`);
    const again = await cli(['jobs', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/409/);
  });

  it('a failed job exits 3 with its error code', async () => {
    const csv = 'a,b,y\n' + Array.from({ length: 40 }, (_, i) => `${i / 10},${(i % 7) / 3},${1000.5 * i}`).join('\n') + '\n';
    writeFileSync(join(dir, 'reg.csv'), csv);
    const ds = json(await cli(['datasets', 'upload', 'reg.csv', '--json']));
    expect(ds.targetKind).toBe('real');
    const r = await cli(['train', '--dataset', ds.id, '--layers', '8:relu,1:linear', '--optimizer', 'sgd', '--lr', '1e6', '--no-normalize', '--epochs', '20', '--batch-size', '10']);
    expect(r.code).toBe(3);
    expect(r.stdout.trim()).toMatch(/ failed$/);
    expect(r.stderr).toMatch(/failed: diverged/);
    const get = await cli(['jobs', 'get', r.stdout.trim().split(/\s+/)[0]]);
    expect(get.stdout).toMatch(/^status: +failed$/m);
    expect(get.stdout).toMatch(/^error: +diverged.*: \S/m);
  });

  it('HTTP errors exit 1 with the problem detail and field paths; usage errors exit 2', async () => {
    const missing = await cli(['train', '--dataset', 'no-such-dataset', '--layers', '4:relu,2:softmax', '--epochs', '2', '--batch-size', '4']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/HTTP 404/);
    expect(missing.stderr).toContain('datasetId:');
    const bad = await cli(['train', '--dataset', datasetId, '--layers', '4:relu,2:softmax', '--lr=-1', '--epochs', '2', '--batch-size', '4', '--json']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/HTTP 400/);
    expect(bad.stderr).toContain('optimizer.learningRate');
    expect(json(bad).error.problem.errors.map((e: { path: string }) => e.path)).toContain('optimizer.learningRate');
    expect((await cli(['jobs', 'get', 'job_nope'])).code).toBe(1);
    expect((await cli(['frobnicate'])).code).toBe(2);
    const badNum = await cli(['train', '--dataset', datasetId, '--epochs', 'many']);
    expect(badNum.code).toBe(2);
    expect(badNum.stderr).toContain('--epochs expects a number');
    const down = await cli(['jobs', 'list', '--url', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach/);
  });

  it('resumes with Last-Event-ID when the connection drops: every event once, in order', async () => {
    const sub = json(await cli(['train', '--dataset', datasetId, '--layers', '32:tanh,2:softmax', '--epochs', '60', '--batch-size', '8', '--detach', '--json']));
    // a TCP proxy that cuts each of the first three connections after 800 bytes (a few events and a half)
    let cuts = 0;
    let cutsDone = 0;
    const target = new URL(stack.url);
    const proxy: Server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      client.pipe(upstream);
      let bytes = 0;
      const cut = cuts++ < 3;
      upstream.on('data', (d: Buffer) => {
        const room = 800 - bytes;
        if (cut && d.length >= room) {
          // forward only part of this chunk: the cut lands inside an event
          cutsDone++;
          client.write(d.subarray(0, room), () => {
            client.destroy();
            upstream.destroy();
          });
          return;
        }
        bytes += d.length;
        client.write(d);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.on('end', () => client.end());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const proxied = new ApiClient({ url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` });
    const reconnects: (string | undefined)[] = [];
    const ids: number[] = [];
    const names: string[] = [];
    try {
      for await (const ev of streamEvents(proxied, `/v1/jobs/${sub.id}/events`, { retryMs: 50, onReconnect: (_n, last) => reconnects.push(last) })) {
        ids.push(Number(ev.id));
        names.push(ev.event);
      }
    } finally {
      proxy.close();
    }
    // how many cuts happen depends on how much the job has written by then; each one must resume
    expect(cutsDone).toBeGreaterThanOrEqual(1);
    expect(reconnects.length).toBe(cutsDone);
    expect(reconnects.every((r) => r !== undefined)).toBe(true);
    // the full history read directly: the resumed read has exactly the same ids
    const direct: number[] = [];
    for await (const ev of streamEvents(new ApiClient({ url: stack.url }), `/v1/jobs/${sub.id}/events`)) direct.push(Number(ev.id));
    expect(ids).toEqual(direct);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).toBe(true);
    expect(names.at(-1)).toBe('completed');
  });
});
