import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from '../../src/core/index.js';
import { kernelOptions, nativeIsas } from '../../src/native-kernels/index.js';
import { CoreBudget } from '../../workers/core-budget.js';
import { moons } from '../helpers/data.js';
import { workerStack, type WorkerStack } from '../helpers/worker-stack.js';

describe('CoreBudget: idle cores go to the running jobs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'budget-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('splits the cores between the registered live trainers and gives them back', async () => {
    const me = new CoreBudget(dir, 4);
    me.enter();
    expect(me.running()).toBe(1);
    expect(me.threads()).toBe(4);
    // another live trainer of the same worker (a real process) starts: half each
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, String(other.pid)), '');
      expect(me.running()).toBe(2);
      expect(me.threads()).toBe(2);
      expect(new CoreBudget(dir, 4, 1).threads()).toBe(1); // TRAINING_MAX_THREADS=1
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
    // its file outlived it: ignored and removed
    expect(me.threads()).toBe(4);
    expect(readdirSync(dir)).toEqual([String(process.pid)]);
    me.leave();
    expect(readdirSync(dir)).toEqual([]);
    expect(new CoreBudget(join(dir, 'missing'), 2).threads()).toBe(2);
  });
});

describe.runIf(nativeIsas().length > 0)('a worker with the default TRAINING_KERNELS', () => {
  let stack: WorkerStack | undefined;
  afterAll(async () => stack?.close());

  it('trains on the native kernels, says so in the result, with the weights of an in-process run', async () => {
    stack = workerStack('native', { WORKER_CONCURRENCY: '1' }, { attempts: 1 });
    const rows = moons(300);
    const spec = {
      model: { layers: [{ units: 64, activation: 'relu' as const }, { units: 32, activation: 'relu' as const }, { units: 2, activation: 'softmax' as const }] },
      loss: 'softmax_cross_entropy' as const,
      optimizer: { type: 'adam' as const, learningRate: 0.01 },
      epochs: 8, batchSize: 16, seed: 5, validationSplit: 0.2,
    };
    const id = await stack.submit({ datasetId: await stack.storeRows(rows), ...spec });
    const done = await stack.waitJob(id, (j) => j.status === 'completed' || j.status === 'failed', 60_000);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.result!.kernels).toBe(`native-${nativeIsas()[0]}-f32`);
    // float64 like the stored dataset (moons' values do not fit float32 exactly: stored as float64)
    const ref = await train(spec, {
      features: Float64Array.from(rows.flatMap((r) => r.slice(0, 2))), targets: Float64Array.from(rows.map((r) => r[2])),
      rows: rows.length, featureCount: 2, targetWidth: 1,
    }, kernelOptions());
    expect(done.result!.weightsHash).toBe(ref.weightsHash);
  });
});
