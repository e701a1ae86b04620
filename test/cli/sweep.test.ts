/**
 * `trainer sweep …` against the real service (npm start: API + worker, real Redis): dry run,
 * create-and-watch on a pipe (one line per event, then the trials table and the best trial),
 * trials as CSV, list, exit codes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonsCsv, root, type Stack, startStack } from '../ops/stack.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let stack: Stack;
let dir: string;

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'src/cli/bin.mjs'), ...args],
      { cwd: dir, env: { ...process.env, TRAINER_URL: stack.url, TRAINER_CLI_FROM_SOURCE: '1' }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trainer-sweep-'));
  stack = await startStack({ env: { PROGRESS_INTERVAL_MS: '20' } });
  const moons = moonsCsv(400, 11);
  const res = await fetch(`${stack.url}/v1/datasets?name=moons&target=label`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: moons.csv });
  expect(res.status).toBe(201);
  const ds = (await res.json()) as { id: string };
  writeFileSync(
    join(dir, 'sweep.json'),
    JSON.stringify({
      datasetId: ds.id,
      base: {
        model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
        loss: 'softmax_cross_entropy',
        optimizer: { type: 'sgd', learningRate: 0.01 },
        epochs: 6,
        batchSize: 16,
        validationSplit: 0.25,
        seed: 1,
      },
      method: 'grid',
      parameters: { 'optimizer.type': { values: ['sgd', 'adam', 'rmsprop'] } },
      metric: { name: 'valAccuracy', goal: 'maximize' },
      maxConcurrent: 1,
      earlyStop: { type: 'asha', minEpochs: 2, eta: 2 },
    }),
  );
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('trainer sweep', () => {
  it('estimates with --dry-run, runs and watches a sweep to its end, shows the trials', async () => {
    const dry = await cli(['sweep', 'create', 'sweep.json', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^3 trials, .* FLOP, ~[\d.]+ s of training/);

    const run = await cli(['sweep', 'create', 'sweep.json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/trial\.started trial 0/);
    expect(run.stderr).toMatch(/sweep\.completed/);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^#\s+STATUS\s+VALACCURACY\s+EPOCHS\s+OPTIMIZER\.TYPE$/);
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatch(/^sweep sw_\w+ completed: 3 trials .* best: trial \d, valAccuracy [\d.]+ \(optimizer\.type=\w+\)$/);
    const id = lines[4].split(' ')[1];

    const csv = await cli(['sweep', 'trials', id, '--csv']);
    expect(csv.stdout.split('\n')[0]).toBe('index,jobId,status,metric,epochsRun,prunedAtEpoch,optimizer.type');
    const list = await cli(['sweep', 'list', '--json']);
    expect(JSON.parse(list.stdout).items.map((s: { id: string }) => s.id)).toContain(id);
    expect((await cli(['sweep', 'cancel', id])).code).toBe(1); // already completed: 409
    expect((await cli(['sweep', 'watch'])).code).toBe(2);
  }, 120_000);
});
