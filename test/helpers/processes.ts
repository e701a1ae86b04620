import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from './net.js';
import { deletePrefix, redisUrl, uniquePrefix, prefixEnv } from './redis.js';
import { waitFor } from './wait.js';

const root = resolve(import.meta.dirname, '..', '..');

/** A child process running one of our TypeScript entry points with `node --import tsx`. */
export function startTs(file: string, env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(root, file)], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return Object.assign(child, { output: () => out });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stop(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

/** Polls `url` until it answers 200 (the error names the last status or connection error, and `context()`, e.g. the process output). */
export async function waitForHttp(url: string, timeoutMs = 30_000, context?: () => unknown): Promise<void> {
  await waitFor(`${url} to answer 200`, async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 300)}`);
    return true;
  }, { timeoutMs, intervalMs: 100, retryErrors: true, context });
}

/** The service as separate processes: see {@link startService}. */
export interface ServiceProcs {
  base: string;
  prefix: string;
  api: ReturnType<typeof startTs>;
  workers: ReturnType<typeof startTs>[];
  /** Stops the API and the workers and deletes every key of the prefix. */
  stop(): Promise<void>;
}

/**
 * The API (`src/server.ts`) and `workers` worker processes (`workers/main.ts`) on a free port and
 * the unique prefix `uniquePrefix(name)`, quiet logs, one training slot each, progress every 20 ms;
 * `env` overrides. Resolves once `/healthz` answers.
 */
export async function startService(name: string, opts: { workers?: number; env?: Record<string, string> } = {}): Promise<ServiceProcs> {
  const prefix = uniquePrefix(name);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { REDIS_URL: redisUrl(), PORT: String(port), HOST: '127.0.0.1', ...prefixEnv(prefix), LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '1', PROGRESS_INTERVAL_MS: '20', ...opts.env };
  const api = startTs('src/server.ts', env);
  const workers = Array.from({ length: opts.workers ?? 1 }, () => startTs('workers/main.ts', env));
  const stopAll = async () => {
    await Promise.all([stop(api), ...workers.map((w) => stop(w))]);
    await deletePrefix(prefix);
  };
  try {
    await waitForHttp(`${base}/healthz`, 30_000, () => `API output:\n${api.output().slice(-2000)}`);
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { base, prefix, api, workers, stop: stopAll };
}
