import { BlobIntegrityError } from '../../src/storage/blobs/blob-store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { runTrainingJob, type RunContext } from '../../workers/run-job.js';
import { moonsSpec } from '../helpers/data.js';
import { testApp } from '../helpers/app.js';
import { runContextFor } from '../helpers/run-context.js';

let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
beforeAll(async () => {
  t = await testApp('run');
  ctx = runContextFor(t.app);
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

describe('runTrainingJob on an infrastructure failure', () => {
  it('goes back to queued with a retry event while attempts remain, then fails with worker_error', async () => {
    const { svc } = t.app;
    const ds = await svc.datasets.create({ tenant: 'default', name: 'c', rows: 2, featureCount: 1, targetWidth: 1, features: Float64Array.of(0.5, 1.5), targets: Float64Array.of(0, 1) });
    // Corrupt the stored blob (7 bytes, not the 16 recorded): loading throws a BlobIntegrityError, not a spec error.
    await svc.blobs.put(svc.keys.datasetBlob(ds.id), Buffer.alloc(7));
    const job = await svc.jobs.create('default', { ...moonsSpec(ds.id, 2), model: { layers: [{ units: 2, activation: 'softmax' }] } });

    await expect(runTrainingJob(ctx, job.id, { attemptsMade: 0, maxAttempts: 2 })).rejects.toThrow(BlobIntegrityError);
    const retried = (await svc.jobs.get(job.id))!;
    expect(retried).toMatchObject({ status: 'queued', attempts: 1 });
    await expect(runTrainingJob(ctx, job.id, { attemptsMade: 1, maxAttempts: 2 })).rejects.toThrow(BlobIntegrityError);
    const failed = (await svc.jobs.get(job.id))!;
    expect(failed).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'worker_error' } });

    const events = await readJobEventsAfter(svc.redis, svc.keys.jobEvents(job.id), 0);
    expect(events.map((e) => `${e.id}:${e.type}:${JSON.parse(e.data).status}`)).toEqual([
      '1:status:queued',
      '2:status:running',
      '3:status:queued',
      '4:status:running',
      '5:failed:failed',
    ]);
    expect(JSON.parse(events[2].data)).toMatchObject({ retry: true });
    expect(JSON.parse(events[3].data)).toMatchObject({ attempt: 2 });
  });
});
