import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { SweepSubmission } from '../../src/schemas/sweep.js';
import { keysFor } from '../../src/storage/keys.js';
import { SweepStore } from '../../src/storage/sweep-store.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

/*
 * The sweep's Lua scripts against real Redis, called at once from several connections (as
 * several workers and API processes would): claims never exceed maxConcurrent, a trial ends
 * exactly once, and every ASHA decision follows the rule and is made once per trial and rung.
 */
const prefix = uniquePrefix('sweep-store');
const keys = keysFor(prefix);
const conns = [new Redis(redisUrl()), new Redis(redisUrl()), new Redis(redisUrl())];
const stores = conns.map((r) => new SweepStore(r, keys, { retentionSeconds: 60 }));

afterAll(async () => {
  await Promise.all(conns.map((c) => c.quit()));
  await deletePrefix(prefix);
});

const submission = {
  datasetId: 'ds_x',
  base: { model: { layers: [{ units: 1, activation: 'linear' }] }, loss: 'mse', optimizer: { type: 'sgd' }, epochs: 18, batchSize: 8 },
  method: 'grid',
  parameters: { a: { values: [1] } },
  metric: { name: 'loss', goal: 'minimize' },
  maxConcurrent: 2,
  earlyStop: { type: 'asha', minEpochs: 2, eta: 3 },
} as SweepSubmission;

describe('sweep store scripts under concurrent callers', () => {
  it('claims at most maxConcurrent trials however many callers race', async () => {
    const id = 'sw_claims';
    await stores[0].create('t', id, submission, Array.from({ length: 10 }, (_, i) => ({ params: { a: i }, jobId: `job_${i}` })));
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 3].claim(id, 2)));
    expect(got.filter((x) => x !== null).sort()).toEqual([0, 1]);
    expect(await stores[0].activeIndexes(id)).toEqual([0, 1]);
  });

  it('ends a trial exactly once (one event, one best update), and completes the sweep when nothing is left', async () => {
    const id = 'sw_end';
    await stores[0].create('t', id, submission, [{ params: { a: 1 }, jobId: 'job_a' }]);
    expect(await stores[0].claim(id, 2)).toBe(0);
    const trial = { index: 0, jobId: 'job_a', params: { a: 1 }, status: 'completed' as const, metric: 0.5, epochsRun: 18 };
    const r = await Promise.all(stores.map((s) => s.endTrial(id, trial, { type: 'trial.completed', data: { trial: 0 } }, 0.5, { trial: 0, jobId: 'job_a', metric: 0.5, params: { a: 1 } })));
    expect(r.filter((x) => x.ended)).toHaveLength(1);
    expect(r.filter((x) => x.completed)).toHaveLength(1);
    const events = (await conns[0].xrange(keys.sweepEvents(id), '-', '+')).map(([, f]) => f[1]);
    expect(events).toEqual(['trial.completed', 'sweep.best', 'sweep.completed']);
    expect((await stores[0].meta(id))!.status).toBe('completed');
  });

  it('ASHA: each decision follows the rank rule, is recorded once, and a repeated question gets the same answer', async () => {
    const id = 'sw_asha';
    await stores[0].create('t', id, submission, Array.from({ length: 12 }, (_, i) => ({ params: { a: i }, jobId: `job_${i}` })));
    // 12 trials reach rung 0 at once from three connections, scores in a scrambled order
    const scores = [5, 3, 9, 1, 7, 2, 8, 4, 6, 0.5, 11, 10];
    const answers = await Promise.all(scores.map((score, i) => stores[i % 3].decide(id, { index: i, jobId: `job_${i}`, rung: 0, epoch: 2, metric: score, score, eta: 3 })));
    const log = await stores[0].decisions(id);
    expect(log).toHaveLength(12);
    for (const d of log) {
      expect(d.decision).toBe(d.rank < Math.ceil(d.reached / 3) ? 'continue' : 'prune');
      expect(answers[d.trial]).toBe(d.decision);
    }
    // The log's order is the order they were decided: reached counts 1..12.
    expect(log.map((d) => d.reached)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // The best score always continues; a trial resumed at the rung gets its first answer again.
    expect(answers[9]).toBe('continue');
    const again = await Promise.all(scores.map((score, i) => stores[(i + 1) % 3].decide(id, { index: i, jobId: `job_${i}`, rung: 0, epoch: 2, metric: score, score: -score, eta: 3 })));
    expect(again).toEqual(answers);
    expect(await stores[0].decisions(id)).toHaveLength(12);
  });
});
