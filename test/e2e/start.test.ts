import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redisAnswers } from '../../src/queue/connection.js';
import { freePort } from '../helpers/net.js';
import { startTs, stop, waitForHttp } from '../helpers/processes.js';
import { waitForState, withDeadline } from '../helpers/wait.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tsnn-start-'));
let child: ReturnType<typeof startTs> | undefined;

afterAll(async () => {
  // SIGTERM first: start.ts then stops API, worker and its Redis (a SIGKILL would orphan them).
  if (child) await stop(child, 20_000);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start (scripts/start.ts)', () => {
  it('with no Redis at REDIS_URL starts a private one (AOF on), runs API + worker, and stops all three on SIGINT', async () => {
    const [port, redisPort] = [await freePort(), await freePort()];
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    expect(await redisAnswers(redisUrl)).toBe(false);
    child = startTs('scripts/start.ts', { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redisUrl, REDIS_DATA_DIR: dataDir, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '1' });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/readyz`);
    expect(child.output()).toMatch(/started a private redis-server/);
    expect(await redisAnswers(redisUrl)).toBe(true);
    // The worker is up too: a job runs to completion.
    const ds = (await (await fetch(`${base}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [[0], [1], [0], [1]], targets: [0, 1, 0, 1] }) })).json()) as { id: string };
    const job = (await (
      await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ datasetId: ds.id, model: { layers: [{ units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 5, batchSize: 2 }),
      })
    ).json()) as { id: string };
    const readJob = async () => (await (await fetch(`${base}/v1/jobs/${job.id}`)).json()) as { status: string };
    await waitForState(`job ${job.id} to complete`, readJob, (j) => j.status === 'completed', { timeoutMs: 30_000, intervalMs: 100, context: () => child?.output().slice(-2000) });
    expect(readdirSync(dataDir)).toContain('appendonlydir');

    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await withDeadline('npm start to exit after SIGINT', exited, 30_000, () => child?.output().slice(-2000))).toBe(0);
    expect(await redisAnswers(redisUrl)).toBe(false);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
