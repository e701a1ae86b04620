import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';
import { startTs, stop, waitForHttp } from '../helpers/processes.js';
import { deletePrefix, redisUrl, uniquePrefix, prefixEnv } from '../helpers/redis.js';
import { openSse } from '../helpers/sse-client.js';
import { withDeadline } from '../helpers/wait.js';

const prefix = uniquePrefix('apisd');
afterAll(() => deletePrefix(prefix));

describe('API SIGTERM', () => {
  it('ends open SSE streams with a retry hint and exits 0', async () => {
    const port = await freePort();
    const api = startTs('src/server.ts', { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redisUrl(), ...prefixEnv(prefix), LOG_LEVEL: 'warn' });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${base}/readyz`);
      const ds = await fetch(`${base}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [[0], [1]], targets: [0, 1] }) });
      const dsId = ((await ds.json()) as { id: string }).id;
      const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId: dsId, model: { layers: [{ units: 1, activation: 'sigmoid' }] }, loss: 'binary_cross_entropy', optimizer: { type: 'sgd', learningRate: 0.1 }, epochs: 1, batchSize: 2 }) });
      expect(res.status).toBe(202);
      const id = ((await res.json()) as { id: string }).id;
      // No worker runs: the job stays queued and its stream stays open.
      const stream = openSse(`${base}/v1/jobs/${id}/events`, { timeoutMs: 20_000 });
      await stream.waitForEvents(1); // the stream is open and has sent the queued status
      const exited = new Promise<number | null>((r) => api.once('exit', (code) => r(code)));
      api.kill('SIGTERM');
      const read = await withDeadline('the SSE stream to end after SIGTERM', stream.done, 15_000, () => api.output());
      expect(read.closedByServer).toBe(true);
      expect(read.events.map((e) => e.event)).toEqual(['status']);
      expect(read.raw).toMatch(/retry: ?\d+\n\n$/);
      expect(await withDeadline('the API to exit after SIGTERM', exited, 15_000, () => api.output())).toBe(0);
    } finally {
      await stop(api);
    }
  }, 40_000);
});
