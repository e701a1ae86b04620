/*
 * What the HTTP benchmarks (submit, sse-fanout) share: running the API of this or another
 * checkout as a child process on a free port, and deleting their throwaway Redis keys.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';

/** Where the API and worker run from: this checkout, or API_ROOT (another checkout, to measure an older version the same way). */
export const apiRoot = resolve(process.env.API_ROOT ?? resolve(import.meta.dirname, '..'));
/** Extra node flags for the API process (API_NODE_ARGS), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
export const apiNodeArgs = process.env.API_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

/** A TCP port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `GET /healthz` every 100 ms for up to 30 s. */
export async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error('API did not start');
}

/** SIGTERM to a child process, resolved once it has exited. */
export const stopChild = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : (c.once('exit', () => r()), c.kill('SIGTERM'))));

/** Unlinks every key under `prefix` (SCAN, so a shared Redis is not blocked). */
export async function deletePrefix(r: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.unlink(...keys);
  } while (cursor !== '0');
}
