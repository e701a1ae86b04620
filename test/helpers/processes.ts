import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
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
