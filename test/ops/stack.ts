/**
 * Starts the real service the way users do (`npm start`: scripts/start.ts → API + one worker)
 * on a free port with a unique key and queue prefix, and removes that prefix's Redis keys after.
 * Shared by the CLI, dashboard and ops tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '../helpers/net.js';
import { deletePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

export const root = resolve(import.meta.dirname, '..', '..');

export interface Stack {
  url: string;
  prefix: string;
  /** Everything the processes printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra environment for API and worker. */
  env?: Record<string, string>;
}

/** Spawns `node --import tsx scripts/start.ts` in its own process group and waits for /healthz. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const port = await freePort();
  const prefix = `t7${process.pid.toString(36)}${Date.now().toString(36)}`;
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    KEY_PREFIX: `${prefix}:`,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: '1',
    ...opts.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'scripts/start.ts')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      // the whole group we started: start.ts, API and worker
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {}
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
      }, 10_000);
      await gone;
      clearTimeout(t);
    }
    await deletePrefix(`${prefix}:`);
  };
  const healthy = async () => {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${out}`);
    try {
      return (await fetch(`${url}/healthz`)).ok;
    } catch {
      return false;
    }
  };
  try {
    await waitFor(`npm start to answer on ${url}/healthz`, healthy, { timeoutMs: 40_000, intervalMs: 150, context: () => out });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, prefix, output: () => out, stop };
}

/** Two interleaved half-moons (seeded), as CSV with header `x,y,label`. */
export function moonsCsv(rows = 400, seed = 7): { csv: string; labels: number[]; features: number[][] } {
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const labels: number[] = [];
  const features: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const c = i % 2;
    const t = Math.PI * rnd();
    const x = c ? 1 - Math.cos(t) : Math.cos(t);
    const y = (c ? 0.5 - Math.sin(t) : Math.sin(t)) + 0.1 * (rnd() - 0.5);
    features.push([x, y]);
    labels.push(c);
  }
  const csv = 'x,y,label\n' + features.map((f, i) => `${f[0]},${f[1]},${labels[i]}`).join('\n') + '\n';
  return { csv, labels, features };
}
