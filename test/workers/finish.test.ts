import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train, type Checkpoint, type TrainResult, type TrainingSpec } from '../../src/core/index.js';
import { BlobStoreUnavailableError } from '../../src/storage/blobs/blob-store.js';
import { readJobEventsAfter } from '../../src/storage/event-stream.js';
import { finish, type AttemptInfo, type Outcome } from '../../workers/finish.js';
import type { RunContext } from '../../workers/run-job.js';
import { testApp } from '../helpers/app.js';
import { moons, moonsSpec } from '../helpers/data.js';
import { runContextFor } from '../helpers/run-context.js';

/*
 * The outcome table of workers/finish.ts (docs/reliability.md, "How an attempt ends"), one case
 * per row: what the record keeps after finish(outcome) and what BullMQ is told.
 */
let t: Awaited<ReturnType<typeof testApp>>;
let ctx: RunContext;
let datasetId: string;
let spec: TrainingSpec;
let full: TrainResult;
const ends: Checkpoint[] = [];
let mid: Checkpoint;

beforeAll(async () => {
  t = await testApp('finish');
  ctx = runContextFor(t.app);
  const rows = moons(120);
  const ds = await t.app.svc.datasets.create({ tenant: 'default', name: 'm', rows: rows.length, featureCount: 2, targetWidth: 1, features: Float64Array.from(rows.flatMap((r) => r.slice(0, 2))), targets: Float64Array.from(rows.map((r) => r[2])) });
  datasetId = ds.id;
  const { datasetId: _d, ...s } = moonsSpec(ds.id, 10);
  spec = s as TrainingSpec;
  const data = { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) };
  // epochs 0-3 with every epoch end kept and a position inside epoch 3
  full = await train({ ...spec, epochs: 4 }, data, {
    checkpointEveryMs: 0,
    onCheckpoint: (c) => {
      if (c.step === 0) ends.push(structuredClone(c));
      else if (c.epoch === 3 && !mid) mid = structuredClone(c);
    },
  });
});
afterAll(async () => {
  await ctx.cancels.close();
  await t.close();
});

/** A job running under attempt 1, as the runner would hand it to finish. */
async function running(opts: { attemptsMade?: number; maxAttempts?: number; maxDurationSeconds?: number } = {}): Promise<AttemptInfo> {
  const job = await t.app.svc.jobs.create('default', { ...moonsSpec(datasetId, 10), ...(opts.maxDurationSeconds ? { maxDurationSeconds: opts.maxDurationSeconds } : {}) });
  await t.app.svc.jobs.transition(job.id, ['queued'], { status: 'running', startedAt: new Date().toISOString() }, { incrementAttempts: true });
  return { job: (await t.app.svc.jobs.get(job.id))!, attemptNo: 1, attemptsMade: opts.attemptsMade ?? 0, maxAttempts: opts.maxAttempts ?? 3 };
}
const record = async (a: AttemptInfo) => (await t.app.svc.jobs.get(a.job.id))!;
const lastEvent = async (a: AttemptInfo) => {
  const e = (await readJobEventsAfter(t.app.svc.redis, t.app.svc.keys.jobEvents(a.job.id), 0)).at(-1)!;
  return { type: e.type, data: JSON.parse(e.data) };
};
const modelOf = (a: AttemptInfo) => t.app.svc.jobs.getModel(a.job.id);
const stop = (at: Checkpoint, lastEpochEnd: Checkpoint | null) => ({ at, lastEpochEnd });

describe('finish(outcome)', () => {
  it('completed keeps the trained model, its metrics and figures, and deletes the checkpoint', async () => {
    const a = await running();
    await ctx.checkpoints.write(a.job.id, 1, { checkpoint: ends[1] });
    expect(await finish(ctx, a, { kind: 'completed', result: full })).toBe('completed');
    expect(await record(a)).toMatchObject({ status: 'completed', result: { epochsRun: 4, weightsHash: full.weightsHash, loss: full.loss, stoppedEarly: false, kernels: full.kernels } });
    expect((await modelOf(a))?.weightsHash).toBe(full.weightsHash);
    expect((await t.app.svc.jobs.getMetrics(a.job.id))?.length).toBe(4);
    expect(await t.app.svc.redis.exists(t.app.svc.keys.jobCheckpoint(a.job.id))).toBe(0);
    expect(await lastEvent(a)).toMatchObject({ type: 'completed', data: { status: 'completed' } });
  });

  it('failed keeps only the error and tells BullMQ not to retry', async () => {
    const a = await running();
    await expect(finish(ctx, a, { kind: 'failed', error: { code: 'invalid_spec', message: 'no', path: 'epochs' } })).rejects.toThrow(UnrecoverableError);
    const j = await record(a);
    expect(j).toMatchObject({ status: 'failed', error: { code: 'invalid_spec', path: 'epochs' } });
    expect(j.result).toBeUndefined();
    expect(await modelOf(a)).toBeNull();
  });

  it('timed-out keeps the model at the abort position and the finished epochs, no result, no retry', async () => {
    const a = await running({ maxDurationSeconds: 2 });
    await expect(finish(ctx, a, { kind: 'timed-out', stop: stop(mid, ends[2]) })).rejects.toThrow(UnrecoverableError);
    const j = await record(a);
    const model = (await modelOf(a))!;
    expect(j).toMatchObject({ status: 'failed', error: { code: 'timeout' }, progress: { epoch: 2 } });
    expect(j.error!.message).toContain(`maxDurationSeconds (2) exceeded at epoch 3, step ${mid.step}`);
    expect(j.error!.message).toContain(model.weightsHash);
    expect(j.result).toBeUndefined();
    expect((await t.app.svc.jobs.getMetrics(a.job.id))?.length).toBe(3);
  });

  it('cancelled keeps the model after the last finished epoch, its figures and progress', async () => {
    const a = await running();
    expect(await finish(ctx, a, { kind: 'cancelled', stop: stop(mid, ends[1]) })).toBe('cancelled');
    const j = await record(a);
    expect(j).toMatchObject({ status: 'cancelled', result: { epochsRun: 2, stoppedEarly: false }, progress: { epoch: 1 }, error: { code: 'cancelled' } });
    expect(j.result!.kernels).toBeUndefined();
    expect((await modelOf(a))?.weightsHash).toBe(j.result!.weightsHash);
    expect(j.error!.message).toMatch(/^cancelled by request at epoch 3, step \d+; the model after epoch 1 \(2 epochs finished/);
  });

  it('cancelled with no finished epoch keeps nothing but says so', async () => {
    const a = await running();
    const first = { ...mid, epoch: 0, history: [] };
    expect(await finish(ctx, a, { kind: 'cancelled', stop: stop(first, null) })).toBe('cancelled');
    const j = await record(a);
    expect(j.result).toBeUndefined();
    expect(j.error!.message).toMatch(/no epoch had finished, so there is no model/);
    expect(await modelOf(a)).toBeNull();
  });

  it('pruned keeps the rung epoch model with stoppedEarly, no error', async () => {
    const a = await running();
    expect(await finish(ctx, a, { kind: 'pruned', stop: stop(mid, ends[2]) })).toBe('pruned');
    const j = await record(a);
    expect(j).toMatchObject({ status: 'pruned', result: { epochsRun: 3, stoppedEarly: true }, progress: { epoch: 2 } });
    expect(j.error).toBeUndefined();
    expect((await modelOf(a))?.weightsHash).toBe(j.result!.weightsHash);
  });

  it('handed-back saves the abort position as the checkpoint and requeues, keeping no model', async () => {
    const a = await running();
    expect(await finish(ctx, a, { kind: 'handed-back', stop: stop(mid, ends[2]) })).toBe('handed-back');
    expect((await record(a)).status).toBe('queued');
    expect(await ctx.checkpoints.load(a.job.id)).toMatchObject({ epoch: 3, step: mid.step, attempt: 1 });
    expect(await lastEvent(a)).toMatchObject({ type: 'status', data: { status: 'queued', handback: true } });
    expect(await modelOf(a)).toBeNull();
  });

  it('retry-later requeues with a retry event', async () => {
    const a = await running();
    expect(await finish(ctx, a, { kind: 'retry-later', err: new BlobStoreUnavailableError('store down') })).toBe('retry-later');
    expect((await record(a)).status).toBe('queued');
    expect(await lastEvent(a)).toMatchObject({ type: 'status', data: { status: 'queued', retry: true, reason: 'store down' } });
  });

  it('errored requeues while attempts remain and fails with worker_error on the last; the error goes to BullMQ either way', async () => {
    const err = new Error('boom');
    const a = await running({ attemptsMade: 0, maxAttempts: 2 });
    await expect(finish(ctx, a, { kind: 'errored', err })).rejects.toBe(err);
    expect(await lastEvent(a)).toMatchObject({ type: 'status', data: { status: 'queued', retry: true, reason: 'boom' } });
    const b = await running({ attemptsMade: 1, maxAttempts: 2 });
    await expect(finish(ctx, b, { kind: 'errored', err })).rejects.toBe(err);
    expect(await record(b)).toMatchObject({ status: 'failed', error: { code: 'worker_error', message: 'boom' } });
  });

  it('an attempt that lost the job writes nothing, whatever its outcome', async () => {
    const outcomes: Outcome[] = [
      { kind: 'completed', result: full },
      { kind: 'cancelled', stop: stop(mid, ends[1]) },
      { kind: 'pruned', stop: stop(mid, ends[2]) },
      { kind: 'handed-back', stop: stop(mid, ends[2]) },
      { kind: 'retry-later', err: new BlobStoreUnavailableError('store down') },
      { kind: 'fenced' },
    ];
    for (const o of outcomes) {
      const a = await running();
      // another worker took the job over: attempt 2 owns it now
      await t.app.svc.jobs.transition(a.job.id, ['running'], {}, { incrementAttempts: true });
      expect(await finish(ctx, a, o), o.kind).toBe('skipped');
      expect(await record(a), o.kind).toMatchObject({ status: 'running', attempts: 2 });
      expect(await modelOf(a), o.kind).toBeNull();
      expect(await ctx.checkpoints.load(a.job.id), o.kind).toBeNull();
    }
    // An error is still told to BullMQ, but the job stays with the attempt that owns it (no requeue).
    const err = new Error('boom');
    const a = await running({ attemptsMade: 0, maxAttempts: 3 });
    await t.app.svc.jobs.transition(a.job.id, ['running'], {}, { incrementAttempts: true });
    const before = (await readJobEventsAfter(t.app.svc.redis, t.app.svc.keys.jobEvents(a.job.id), 0)).length;
    await expect(finish(ctx, a, { kind: 'errored', err })).rejects.toBe(err);
    expect(await record(a)).toMatchObject({ status: 'running', attempts: 2 });
    expect(await readJobEventsAfter(t.app.svc.redis, t.app.svc.keys.jobEvents(a.job.id), 0)).toHaveLength(before);
  });
});
