import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { train } from '../../src/core/index.js';
import { trainerNodeFlags } from '../../workers/training-worker.js';
import { moons } from '../helpers/data.js';
import { workerStack, type WorkerStack } from '../helpers/worker-stack.js';

const rows = moons(200);
const spec = {
  model: { layers: [{ units: 32, activation: 'relu' as const }, { units: 32, activation: 'tanh' as const }, { units: 2, activation: 'softmax' as const }] },
  loss: 'softmax_cross_entropy' as const,
  optimizer: { type: 'adam' as const, learningRate: 0.01 },
  epochs: 15,
  batchSize: 16,
  seed: 11,
};
const data = { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) };

/** The weights hash of `spec` trained in a fresh node process started with `flags`. */
function hashInChild(flags: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'fma-'));
  try {
    const file = join(dir, 'run.mts');
    const core = new URL('../../src/core/index.ts', import.meta.url).href;
    writeFileSync(file, `import { train } from ${JSON.stringify(core)};\nconst r = await train(${JSON.stringify(spec)}, ${JSON.stringify(data)});\nconsole.log(r.weightsHash);\n`);
    return execFileSync(process.execPath, [...flags, '--import', 'tsx', file], { encoding: 'utf8', cwd: process.cwd() }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('trainer children run the relaxed-SIMD (FMA) kernels', () => {
  it('adds the V8 flag on Node 20 unless TRAINING_WASM_FMA=false', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(trainerNodeFlags({})).toEqual(major < 22 ? ['--experimental-wasm-relaxed-simd'] : []);
    expect(trainerNodeFlags({ TRAINING_WASM_FMA: true })).toEqual(major < 22 ? ['--experimental-wasm-relaxed-simd'] : []);
    expect(trainerNodeFlags({ TRAINING_WASM_FMA: false })).toEqual([]);
    expect(loadConfig({ TRAINING_WASM_FMA: '0' }).TRAINING_WASM_FMA).toBe(false);
    expect(() => loadConfig({ TRAINING_WASM_FMA: 'maybe' })).toThrow(/TRAINING_WASM_FMA/);
  });

  let stack: WorkerStack;
  beforeAll(() => {
    // The wasm kernels are what this test is about (the default is the native addon where it loads).
    process.env.TRAINING_KERNELS = 'wasm';
    stack = workerStack('fma', { WORKER_CONCURRENCY: '1' }, { attempts: 1 });
  });
  afterAll(async () => {
    delete process.env.TRAINING_KERNELS;
    await stack.close();
  });

  it('a job trained by the worker has the FMA weights, which differ from the plain-SIMD ones', async () => {
    if (Number(process.versions.node.split('.')[0]) >= 22) return; // FMA is the only wasm path there
    const withFma = hashInChild(['--experimental-wasm-relaxed-simd']);
    const plain = hashInChild([]);
    expect(withFma).not.toBe(plain); // the flag is observable in the weights
    expect((await train(spec, data)).weightsHash).toBe(withFma); // vitest runs with the flag too

    const id = await stack.submit({ datasetId: await stack.storeRows(rows), ...spec });
    const done = await stack.waitJob(id, (j) => j.status === 'completed' || j.status === 'failed', 45_000);
    expect(done.status).toBe('completed');
    expect(done.result!.weightsHash).toBe(withFma);
    expect(done.result!.kernels).toBe('wasm-simd-fma-f32');
  });
});
