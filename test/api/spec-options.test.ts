import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPTIMIZER_FIELDS } from '../../src/core/optimizers/registry.js';
import { SCHEDULE_FIELDS } from '../../src/core/schedules.js';
import { ACTIVATIONS, CLIP_TYPES, LOSSES, OPTIMIZERS, SCHEDULES } from '../../src/core/types.js';
import { testApp } from '../helpers/app.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('spec-options');
});
afterAll(async () => t.close());

describe('GET /v1/spec/options', () => {
  it('lists the core\'s choices and every optimizer parameter with its default and range', async () => {
    const res = await t.app.inject({ url: '/v1/spec/options' });
    expect(res.statusCode).toBe(200);
    const o = res.json();
    expect(o.activations).toEqual([...ACTIVATIONS]);
    expect(o.losses).toEqual([...LOSSES]);
    expect(o.clipTypes).toEqual([...CLIP_TYPES]);
    expect(o.optimizers.map((x: { type: string }) => x.type)).toEqual([...OPTIMIZERS]);
    for (const { type, fields } of o.optimizers) expect(fields.map((f: { name: string }) => f.name)).toEqual(Object.keys(OPTIMIZER_FIELDS[type as keyof typeof OPTIMIZER_FIELDS]));
    const adam = o.optimizers.find((x: { type: string }) => x.type === 'adam').fields;
    expect(adam.find((f: { name: string }) => f.name === 'learningRate')).toMatchObject({ kind: 'number', default: 0.001, min: 0, exclusiveMin: true });
    expect(adam.find((f: { name: string }) => f.name === 'beta2')).toMatchObject({ kind: 'number', default: 0.999, min: 0, max: 1, exclusiveMax: true });
    expect(o.defaults).toMatchObject({ lossForOutput: { softmax: 'softmax_cross_entropy', sigmoid: 'binary_cross_entropy', otherwise: 'mse' }, earlyStopping: { restoreBest: true, minDelta: 0 } });
    expect(o.starter).toEqual({ optimizer: 'adam', epochs: 50, batchSize: 32 });
  });

  it('lists every schedule and clip type with its parameters from the core\'s tables, and the API checks by the same tables', async () => {
    const o = (await t.app.inject({ url: '/v1/spec/options' })).json();
    expect(o.scheduleParameters.map((x: { type: string }) => x.type)).toEqual([...SCHEDULES]);
    for (const { type, fields } of o.scheduleParameters) expect(fields.map((f: { name: string }) => f.name)).toEqual(Object.keys(SCHEDULE_FIELDS[type as keyof typeof SCHEDULE_FIELDS]));
    const step = o.scheduleParameters.find((x: { type: string }) => x.type === 'step').fields;
    expect(step).toEqual([
      expect.objectContaining({ name: 'gamma', kind: 'number', min: 0, exclusiveMin: true, max: 1 }),
      expect.objectContaining({ name: 'stepSize', kind: 'number', integer: true, min: 1 }),
    ]);
    expect(step.every((f: { default?: unknown }) => f.default === undefined)).toBe(true); // required
    expect(o.scheduleParameters.find((x: { type: string }) => x.type === 'inverse_sqrt').fields).toEqual([expect.objectContaining({ name: 'k', default: 1 })]);
    expect(o.clipParameters).toEqual(CLIP_TYPES.map((type) => ({ type, fields: [expect.objectContaining({ name: type === 'value' ? 'value' : 'maxNorm', kind: 'number', min: 0, exclusiveMin: true })] })));

    // a required schedule parameter missing, and one out of its declared range: 400 naming the field
    const missing = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: 'ds_none', model: { layers: [{ units: 2, activation: 'softmax' }] }, optimizer: { type: 'sgd' }, epochs: 1, batchSize: 1, schedule: { type: 'step', gamma: 0.5 } } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'schedule.stepSize' })]));
    const range = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: 'ds_none', model: { layers: [{ units: 2, activation: 'softmax' }] }, optimizer: { type: 'sgd' }, epochs: 1, batchSize: 1, clip: { type: 'value', value: 0 } } });
    expect(range.statusCode).toBe(400);
    expect(range.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'clip.value', message: expect.stringContaining('must be a finite number > 0, got 0') })]));
  });

  it('refuses a query parameter it does not know', async () => {
    const res = await t.app.inject({ url: '/v1/spec/options?foo=1' });
    expect(res.statusCode).toBe(400);
  });
});
