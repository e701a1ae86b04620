import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problem, testApp } from '../helpers/app.js';
import { moons, toCsv } from '../helpers/data.js';

// What a submit says about a spec the schema (shape) or the core's validateSpec refuses, over
// HTTP. The rules themselves are tested in test/core/validate-spec.test.ts.

let t: Awaited<ReturnType<typeof testApp>>;
const rows = moons(40);
let dsClass: string;
let dsNeg: string;
let dsHalf: string;

const upload = async (csv: string) => {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
};

beforeAll(async () => {
  t = await testApp('submit-errors', { MAX_ACTIVE_JOBS_PER_TENANT: '1000', RATE_LIMIT_MAX: '0' });
  dsClass = await upload(toCsv(['x', 'y', 'label'], rows));
  dsNeg = await upload('a,y\n1,-1\n2,1\n3,1\n4,-1\n');
  dsHalf = await upload('a,y\n1,0\n2,1.5\n3,1\n4,0\n');
});
afterAll(async () => t.close());

const softmax = { layers: [{ units: 4, activation: 'tanh' }, { units: 2, activation: 'softmax' }] };
const sigmoid = { layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }] };
const linear = { layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'linear' }] };
const base = { model: softmax, loss: 'softmax_cross_entropy', optimizer: { type: 'adam' }, epochs: 2, batchSize: 8, seed: 1 };
const bce = { ...base, model: sigmoid, loss: 'binary_cross_entropy' };

describe('named spec errors at submit', () => {
  it.each([
    ['inverse_time without decayRate', { schedule: { type: 'inverse_time' } }, 'schedule.decayRate', /required \(a finite number ≥ 0\)/],
    ['exponential without gamma', { schedule: { type: 'exponential' } }, 'schedule.gamma', /required \(in \(0, 1\]\)/],
    ['step without stepSize', { schedule: { type: 'step', gamma: 0.5 } }, 'schedule.stepSize', /required \(an integer ≥ 1\)/],
    ['normalize.targets with softmax CE', { normalize: { targets: true } }, 'normalize.targets', /mse/],
    ['normalize.targets with BCE', { ...bce, normalize: { targets: true } }, 'normalize.targets', /mse/],
    ['sgd + beta1', { optimizer: { type: 'sgd', beta1: 0.9 } }, 'optimizer.beta1', /not a parameter of sgd; sgd takes learningRate, weightDecay/],
    ['adam + momentum', { optimizer: { type: 'adam', momentum: 0.9 } }, 'optimizer.momentum', /not a parameter of adam; adam takes learningRate, beta1, beta2, epsilon, weightDecay/],
    ['constant + gamma', { schedule: { type: 'constant', gamma: 0.5 } }, 'schedule.gamma', /not a parameter of constant/],
    ['an unknown optimizer type', { optimizer: { type: 'adagrad' } }, 'optimizer.type', /^optimizer\.type: must be one of sgd, momentum, rmsprop, adam, adamw, got "adagrad"$/],
    ['an optimizer without type', { optimizer: { learningRate: 0.1 } }, 'optimizer.type', /^optimizer\.type: required \(one of sgd, momentum, rmsprop, adam, adamw\)$/],
    ['norm clip without maxNorm', { clip: { type: 'norm' } }, 'clip.maxNorm', /required \(a finite number > 0\)/],
    ['value clip with maxNorm', { clip: { type: 'value', value: 1, maxNorm: 1 } }, 'clip.maxNorm', /not a parameter of value; value takes value/],
    ['missing batchSize', { batchSize: undefined }, 'batchSize', /^batchSize: required \(an integer ≥ 1 and ≤ 1000000\)$/],
    ['missing loss', { loss: undefined }, 'loss', /^loss: required \(one of mse, binary_cross_entropy, softmax_cross_entropy\)$/],
    ['beta 1 (momentum)', { optimizer: { type: 'momentum', variant: 'ema', beta: 1 } }, 'optimizer.beta', /^optimizer\.beta: must be in \[0, 1\), got 1$/],
    ['momentum 1', { optimizer: { type: 'momentum', momentum: 1 } }, 'optimizer.momentum', /must be in \[0, 1\), got 1/],
    ['momentum −0.1', { optimizer: { type: 'rmsprop', momentum: -0.1 } }, 'optimizer.momentum', /must be in \[0, 1\), got -0\.1/],
  ])('%s → 400', async (_n, patch, path, msg) => {
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: dsClass, ...base, ...patch } }));
    expect(p.status).toBe(400);
    expect(p.errors?.map((e) => e.path)).toEqual([path]);
    expect(p.detail).toMatch(msg);
    expect(p.detail!.startsWith(`${path}: `)).toBe(true);
  });

  it.each([
    ['softmax_cross_entropy, label −1', () => ({ ...base, datasetId: dsNeg }), /label -1 in row 0/],
    ['binary_cross_entropy, label −1', () => ({ ...bce, datasetId: dsNeg }), /has -1 in row 0/],
    ['softmax_cross_entropy, label 1.5', () => ({ ...base, datasetId: dsHalf }), /label 1\.5 in row 1/],
    ['binary_cross_entropy, label 1.5', () => ({ ...bce, datasetId: dsHalf }), /has 1\.5 in row 1/],
  ])('%s → 400 at loss naming the value', async (_n, body, msg) => {
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: body() }));
    expect([p.status, p.errors?.[0].path]).toEqual([400, 'loss']);
    expect(p.detail).toMatch(msg);
  });

  it('validationSplit that leaves less than one batch of training rows → 400 with the numbers', async () => {
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: dsClass, ...base, validationSplit: 0.99 } }));
    expect([p.status, p.errors?.map((e) => e.path)]).toEqual([400, ['validationSplit']]);
    expect(p.detail).toBe('validationSplit: validationSplit 0.99 holds out 39 of 40 rows and leaves 1 for training, fewer than one batch of 8 (batchSize 8); use at most 0.8');
  });

  it('every problem of a spec is named at once', async () => {
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: dsClass, ...base, validationSplit: 0.99, model: { layers: [{ units: 4, activation: 'softmax' }, { units: 3, activation: 'softmax' }] } } }));
    expect(p.errors?.map((e) => e.path)).toEqual(['model.layers.0.activation', 'model.layers.1.units', 'validationSplit']);
  });

  it.each([
    ['beta 0', { type: 'momentum', variant: 'ema', beta: 0 }],
    ['beta1 0', { type: 'adam', beta1: 0 }],
    ['beta2 0', { type: 'adamw', beta2: 0 }],
    ['rmsprop beta 0', { type: 'rmsprop', beta: 0 }],
  ])('%s is in [0, 1) → 202', async (_n, optimizer) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: dsClass, ...base, optimizer } });
    expect(res.statusCode, res.body).toBe(202);
  });
});

describe('content type and cursors', () => {
  it('text/plain → 415 unsupported_media_type saying to send application/json', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ datasetId: dsClass, ...base }) });
    const p = problem(res);
    expect([p.status, p.code]).toEqual([415, 'unsupported_media_type']);
    expect(p.detail).toMatch(/application\/json.*got text\/plain/);
  });

  it('no Content-Type → 415 naming the type the route takes', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: Buffer.from(JSON.stringify({ datasetId: dsClass, ...base })) });
    const p = problem(res);
    expect([p.status, p.code]).toEqual([415, 'unsupported_media_type']);
    expect(p.detail).toMatch(/takes application\/json.*no Content-Type/);
  });

  it('application/json; charset=utf-8 is JSON', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: JSON.stringify({ datasetId: dsClass, ...base }) });
    expect(res.statusCode).toBe(202);
  });

  it.each(['/v1/jobs', '/v1/datasets'])('%s?after=garbage → 400 at after', async (url) => {
    const p = problem(await t.app.inject({ url: `${url}?after=garbage` }));
    expect([p.status, p.errors?.[0].path, p.errors?.[0].in]).toEqual([400, 'after', 'query']);
    expect(p.detail).toMatch(/^after: /);
  });

  it('a real cursor still pages', async () => {
    const first = (await t.app.inject({ url: '/v1/datasets?limit=1' })).json();
    expect(first.next).toBe(dsHalf);
    const second = await t.app.inject({ url: `/v1/datasets?limit=1&after=${first.next}` });
    expect(second.statusCode).toBe(200);
    expect(second.json().items[0].id).toBe(dsNeg);
  });
});
