import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonsSpec } from '../helpers/data.js';
import { testApp } from '../helpers/app.js';
import { parseSse } from '../helpers/sse.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('race');
});
afterAll(async () => t.close());

describe('SSE and a job that ends while the stream is between reads', () => {
  it('always delivers the terminal event (200 jobs ended right after a progress event)', async () => {
    const { svc } = t.app;
    let missing = 0;
    for (let i = 0; i < 200; i++) {
      const job = await svc.jobs.create('default', moonsSpec('ds_x'));
      await svc.jobs.transition(job.id, ['queued'], { status: 'running' }, { event: { type: 'status', data: { status: 'running' } } });
      const res = await t.app.inject({ url: `/v1/jobs/${job.id}/events`, payloadAsStream: true });
      let text = '';
      const ended = new Promise<void>((r) => res.stream().on('data', (c: Buffer) => (text += c.toString())).on('end', () => r()));
      // Wake the blocked reader with a progress event, then end the job while it handles that event.
      await svc.jobs.appendEvent(job.id, 'progress', { epoch: 0 });
      await new Promise((r) => setImmediate(r));
      await svc.jobs.finish(job.id, ['running'], 'completed');
      await ended;
      if (parseSse(text).at(-1)?.event !== 'completed') missing++;
    }
    expect(missing).toBe(0);
  });
});
