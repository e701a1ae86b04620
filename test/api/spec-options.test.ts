import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPTIMIZER_FIELDS } from '../../src/core/optimizers/registry.js';
import { ACTIVATIONS, CLIP_TYPES, LOSSES, OPTIMIZERS } from '../../src/core/types.js';
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

  it('refuses a query parameter it does not know', async () => {
    const res = await t.app.inject({ url: '/v1/spec/options?foo=1' });
    expect(res.statusCode).toBe(400);
  });
});
