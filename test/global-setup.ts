import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from '../src/queue/connection.js';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/wait.js';

let redis: ChildProcess | undefined;
let dir: string | undefined;

/**
 * Uses the Redis at REDIS_URL (default 127.0.0.1:6379) when it answers; otherwise starts a
 * private redis-server on a free port with a temp dir for this run and points REDIS_URL at it
 * (test processes inherit the variable).
 */
export async function setup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  if (spawnSync('redis-server', ['--version']).status !== 0)
    throw new Error(`no Redis answers at ${url} and redis-server is not installed: apt-get install -y redis-server, or set REDIS_URL`);
  const port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'tsnn-test-redis-'));
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const privateUrl = `redis://127.0.0.1:${port}`;
  await waitFor(`the redis-server started on port ${port} to answer PING`, () => redisAnswers(privateUrl, 200), { timeoutMs: 15_000 });
  process.env.REDIS_URL = privateUrl;
}

export async function teardown(): Promise<void> {
  if (redis && redis.exitCode === null) {
    const exited = new Promise((r) => redis!.once('exit', r));
    redis.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}
