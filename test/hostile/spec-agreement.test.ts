import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidSpecError, train } from '../../src/core/index.js';
import type { TrainingSpec } from '../../src/core/types.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, toCsv } from '../helpers/data.js';

// The API must refuse at submit every spec the worker's core would fail as invalid_spec, and
// accept every spec the core trains: both run the same validation.

let t: Awaited<ReturnType<typeof testApp>>;
const rows = moons(40);
const data = { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) };
const negRows = [[1, -1], [2, 1], [3, 1], [4, -1]];
let dsClass: string;
let dsNeg: string;
let dsHalf: string;

const upload = async (csv: string) => {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
};

beforeAll(async () => {
  t = await testApp('spec-agreement', { MAX_ACTIVE_JOBS_PER_TENANT: '1000', RATE_LIMIT_MAX: '0' });
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
const mse = { ...base, model: linear, loss: 'mse' };

/** Spec variants over every field the core checks; none carries a field its type does not take. */
const VARIANTS: [string, Record<string, unknown>][] = [
  ...(['constant', 'inverse_sqrt', 'inverse_time', 'exponential', 'step'] as const).flatMap((type) => [
    [`schedule ${type} bare`, { ...base, schedule: { type } }] as [string, Record<string, unknown>],
  ]),
  ['inverse_time decayRate 0', { ...base, schedule: { type: 'inverse_time', decayRate: 0 } }],
  ['inverse_sqrt k 2', { ...base, schedule: { type: 'inverse_sqrt', k: 2 } }],
  ['exponential gamma 1', { ...base, schedule: { type: 'exponential', gamma: 1 } }],
  ['step gamma only', { ...base, schedule: { type: 'step', gamma: 0.5 } }],
  ['step stepSize only', { ...base, schedule: { type: 'step', stepSize: 2 } }],
  ['step both', { ...base, schedule: { type: 'step', gamma: 0.5, stepSize: 2 } }],
  ...[base, bce, mse].flatMap((s) => [
    [`${s.loss} normalize {targets:true}`, { ...s, normalize: { targets: true } }] as [string, Record<string, unknown>],
    [`${s.loss} normalize {features:false}`, { ...s, normalize: { features: false } }] as [string, Record<string, unknown>],
    [`${s.loss} normalize false`, { ...s, normalize: false }] as [string, Record<string, unknown>],
  ]),
  ...(['beta', 'momentum'] as const).flatMap((k) =>
    [0, 0.5, 0.999].map((v) => [`momentum ${k} ${v}`, { ...base, optimizer: { type: 'momentum', variant: 'ema', [k]: v } }] as [string, Record<string, unknown>]),
  ),
  ...(['beta', 'momentum'] as const).flatMap((k) => [0, 0.9].map((v) => [`rmsprop ${k} ${v}`, { ...base, optimizer: { type: 'rmsprop', [k]: v } }] as [string, Record<string, unknown>])),
  ...(['adam', 'adamw'] as const).flatMap((type) =>
    (['beta1', 'beta2'] as const).flatMap((k) => [0, 0.5].map((v) => [`${type} ${k} ${v}`, { ...base, optimizer: { type, [k]: v } }] as [string, Record<string, unknown>])),
  ),
  ['sgd weightDecay 0', { ...base, optimizer: { type: 'sgd', weightDecay: 0 } }],
  ['momentum nesterov', { ...base, optimizer: { type: 'momentum', nesterov: true } }],
  ['rmsprop centered', { ...base, optimizer: { type: 'rmsprop', centered: true, epsilon: 1e-7 } }],
  ['clip value', { ...base, clip: { type: 'value', value: 1 } }],
  ['clip norm', { ...base, clip: { type: 'norm', maxNorm: 1 } }],
  ['clip global_norm', { ...base, clip: { type: 'global_norm', maxNorm: 1 } }],
  ['gradientCheck true', { ...base, gradientCheck: true }],
  ['gradientCheck options', { ...base, gradientCheck: { epsilon: 1e-4, batchSize: 4 } }],
  ['earlyStopping', { ...base, earlyStopping: { patience: 1, minDelta: 0 }, validationSplit: 0.25 }],
  ['validationSplit 0.99', { ...base, validationSplit: 0.99 }],
  ['validationSplit 0.9', { ...base, validationSplit: 0.9 }],
  ['dtype float64', { ...base, dtype: 'float64' }],
  ['init he_normal', { ...base, model: { ...softmax, init: 'he_normal' } }],
];

/** What the worker's core says: undefined when it trains, else the InvalidSpecError. */
async function coreVerdict(spec: Record<string, unknown>, d: { features: number[][]; targets: number[] }): Promise<InvalidSpecError | undefined> {
  try {
    await train(spec as unknown as TrainingSpec, d);
    return undefined;
  } catch (err) {
    if (err instanceof InvalidSpecError) return err;
    return undefined; // divergence and the like are not spec errors
  }
}

describe('the API refuses exactly what the core refuses', () => {
  it.each(VARIANTS)('%s', async (_n, spec) => {
    const verdict = await coreVerdict(spec, data);
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: { datasetId: dsClass, ...spec } });
    if (verdict) {
      const p = problem(res);
      expect(p.status, `core: ${verdict.path}: ${verdict.message}`).toBe(400);
      expect(p.errors?.[0].path).toBe(verdict.path.replace(/\[(\d+)\]/g, '.$1'));
    } else {
      expect(res.statusCode, res.body).toBe(202);
    }
  });

  it('the variants cover both answers (the loop is not vacuous)', async () => {
    const verdicts = await Promise.all(VARIANTS.map(([, s]) => coreVerdict(s, data)));
    expect(verdicts.filter(Boolean).length).toBeGreaterThanOrEqual(5);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThanOrEqual(20);
  });

  it.each([
    ['softmax_cross_entropy, label −1', () => ({ ...base, datasetId: dsNeg }), /label -1 in row 0/],
    ['binary_cross_entropy, label −1', () => ({ ...bce, datasetId: dsNeg }), /has -1 in row 0/],
    ['softmax_cross_entropy, label 1.5', () => ({ ...base, datasetId: dsHalf }), /label 1\.5 in row 1/],
    ['binary_cross_entropy, label 1.5', () => ({ ...bce, datasetId: dsHalf }), /has 1\.5 in row 1/],
  ])('%s → 400 at loss naming the value, as the core refuses it', async (_n, body, msg) => {
    const b = body();
    const ds = b.datasetId === dsNeg ? { features: negRows.map((r) => [r[0]]), targets: negRows.map((r) => r[1]) } : { features: [[1], [2], [3], [4]], targets: [0, 1.5, 1, 0] };
    expect(await coreVerdict({ ...b, datasetId: undefined }, ds)).toBeInstanceOf(InvalidSpecError);
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: b }));
    expect([p.status, p.errors?.[0].path]).toEqual([400, 'loss']);
    expect(p.detail).toMatch(msg);
  });
});

describe('named spec errors at submit', () => {
  it.each([
    ['inverse_time without decayRate', { schedule: { type: 'inverse_time' } }, 'schedule.decayRate', /required \(a number ≥ 0\)/],
    ['exponential without gamma', { schedule: { type: 'exponential' } }, 'schedule.gamma', /required \(a number > 0 and ≤ 1\)/],
    ['step without stepSize', { schedule: { type: 'step', gamma: 0.5 } }, 'schedule.stepSize', /required \(an integer ≥ 1\)/],
    ['normalize.targets with softmax CE', { normalize: { targets: true } }, 'normalize.targets', /mse/],
    ['normalize.targets with BCE', { ...bce, normalize: { targets: true } }, 'normalize.targets', /mse/],
    ['sgd + beta1', { optimizer: { type: 'sgd', beta1: 0.9 } }, 'optimizer.beta1', /not a parameter of sgd; sgd takes learningRate, weightDecay/],
    ['adam + momentum', { optimizer: { type: 'adam', momentum: 0.9 } }, 'optimizer.momentum', /not a parameter of adam; adam takes learningRate, beta1, beta2, epsilon, weightDecay/],
    ['constant + gamma', { schedule: { type: 'constant', gamma: 0.5 } }, 'schedule.gamma', /not a parameter of constant/],
    ['an unknown optimizer type', { optimizer: { type: 'adagrad' } }, 'optimizer.type', /^optimizer\.type: must be one of sgd, momentum, rmsprop, adam, adamw, got "adagrad"$/],
    ['an optimizer without type', { optimizer: { learningRate: 0.1 } }, 'optimizer.type', /^optimizer\.type: required \(one of sgd, momentum, rmsprop, adam, adamw\)$/],
    ['norm clip without maxNorm', { clip: { type: 'norm' } }, 'clip.maxNorm', /required/],
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
    expect([p.status, p.errors?.[0].path, p.errors?.[0].in]).toEqual([400, 'after', 'querystring']);
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
