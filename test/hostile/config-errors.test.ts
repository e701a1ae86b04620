import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

// A bad environment stops each entry point with one line per bad variable, no stack trace.
describe('bad environment values', () => {
  it.each(['scripts/start.ts', 'src/server.ts', 'workers/main.ts'])('%s: PORT=abc WORKER_CONCURRENCY=0 → exit 1, one clean line each', (file) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(root, file)], {
      cwd: root,
      env: { ...process.env, PORT: 'abc', WORKER_CONCURRENCY: '0', REDIS_URL: 'redis://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'invalid environment: PORT="abc": not a number',
      'invalid environment: WORKER_CONCURRENCY="0": Too small: expected number to be >=1',
    ]);
    expect(r.stdout).toBe('');
  });
});

describe('empty environment values', () => {
  it('PORT= (set but empty) takes the default 3000 instead of coercing to port 0', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000);
    expect(loadConfig({ PORT: '', WORKER_CONCURRENCY: '', LOG_LEVEL: '' }).LOG_LEVEL).toBe('info');
    expect(loadConfig({ PORT: '8080' }).PORT).toBe(8080);
  });

  it('a trainer child reads the same validated settings as the worker: PROGRESS_INTERVAL_MS= is 100 there too, not 0', async () => {
    const { loadConfig, loadTrainerConfig } = await import('../../src/config.js');
    const env = { PROGRESS_INTERVAL_MS: '', CHECKPOINTS_KEPT: '', REDIS_URL: '', QUEUE_PREFIX: '' };
    const trainer = loadTrainerConfig(env);
    expect(trainer.PROGRESS_INTERVAL_MS).toBe(100);
    expect(trainer).toEqual(Object.fromEntries(Object.keys(trainer).map((k) => [k, loadConfig(env)[k as keyof typeof trainer]])));
    expect(() => loadTrainerConfig({ PROGRESS_INTERVAL_MS: 'soon' })).toThrow(/PROGRESS_INTERVAL_MS/);
  });
});

describe('Redis Cluster settings', () => {
  it('REDIS_CLUSTER_NODES must be host:port pairs, and a cluster needs a hash-tagged queue prefix; KEY_PREFIX takes no braces', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'localhost' })).toThrow('REDIS_CLUSTER_NODES="localhost": expected host:port,host:port');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: 'bull' })).toThrow('QUEUE_PREFIX="bull": on a Redis Cluster QUEUE_PREFIX (or QUEUE_NAME) must contain a {hash tag}');
    expect(() => loadConfig({ KEY_PREFIX: '{tsnn}:' })).toThrow('KEY_PREFIX="{tsnn}:": must not contain { or }');
    // The default prefix is tagged; a tagged queue name does as well.
    expect(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' }).QUEUE_PREFIX).toBe('{bull}');
    expect(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: 'bull', QUEUE_NAME: '{training}' }).QUEUE_NAME).toBe('{training}');
  });
});
