import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEventsAfter } from '../../src/storage/event-stream.js';
import { testApp } from '../helpers/app.js';
import { moonsSpec } from '../helpers/data.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('submitpath');
});
afterAll(async () => t.close());

describe('job creation in one MULTI', () => {
  it('returns exactly what reading the record back gives, with the first status event as id 1 and later events after it', async () => {
    const { svc } = t.app;
    const created = await svc.jobs.create('default', { ...moonsSpec('ds_x'), maxDurationSeconds: 60 } as never);
    expect(await svc.jobs.get(created.id)).toEqual(created);
    expect(created).toMatchObject({ status: 'queued', attempts: 0, progress: null, datasetId: 'ds_x' });
    expect(await svc.jobs.appendEvent(created.id, 'progress', { step: 0 })).toBe(2);
    const events = await readEventsAfter(svc.redis, svc.keys.jobEvents(created.id), 0);
    expect(events.map((e) => [e.id, e.type, JSON.parse(e.data)])).toEqual([
      [1, 'status', { status: 'queued' }],
      [2, 'progress', { step: 0 }],
    ]);
    expect(await svc.redis.zscore(svc.keys.jobIndex('default'), created.id)).toBe('0');
    expect(await svc.redis.sismember(svc.keys.datasetActiveJobs('ds_x'), created.id)).toBe(1);
  });
});
