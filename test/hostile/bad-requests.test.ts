import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/core/index.js';
import { problem, testApp } from '../helpers/app.js';
import { moons, moonsSpec, toCsv } from '../helpers/data.js';
import { redisUrl, testQueuePrefix } from '../helpers/redis.js';

// Small limits so every limit can be crossed cheaply.
const ENV = {
  MAX_DATASET_ROWS: '50',
  MAX_DATASET_COLUMNS: '12',
  MAX_DATASET_BYTES: String(6 * 1024 * 1024),
  MAX_BODY_BYTES: '4096',
  MAX_PREDICT_ROWS: '5',
  MAX_PARAMS: '5000',
  MAX_TRAINING_COST: '1e8',
  RATE_LIMIT_MAX: '0',
};

let t: Awaited<ReturnType<typeof testApp>>;
let redis: Redis;
let dsClass: string; // moons: 2 features, labels 0/1
let dsReal: string; // real targets
let dsFive: string; // labels 0..4
let dsNeg: string; // labels -1/1
let done: string; // a completed job on dsClass
let before: string[];

async function storedKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${t.prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.filter((k) => !k.startsWith(testQueuePrefix(t.prefix))).sort();
}

const upload = async (csv: string) => {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
};

beforeAll(async () => {
  t = await testApp('hostile-table', ENV);
  redis = new Redis(redisUrl());
  const rows = moons(40);
  dsClass = await upload(toCsv(['x', 'y', 'label'], rows));
  dsReal = await upload('a,b,y\n1,2,0.5\n2,3,1.5\n3,4,2.5\n');
  dsFive = await upload('a,y\n1,0\n2,4\n3,2\n');
  dsNeg = await upload('a,y\n1,-1\n2,1\n3,1\n');
  const sub = await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: moonsSpec(dsClass, 2) });
  done = sub.json().id;
  const res = await train(moonsSpec(dsClass, 2), { features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) });
  await t.app.svc.jobs.saveArtifacts(done, res.model, res.history);
  await t.app.svc.jobs.finish(done, ['queued'], 'completed', { result: { loss: res.loss, epochsRun: 2, stoppedEarly: false, weightsHash: res.weightsHash, durationMs: 1, samplesPerSecond: 1 } });
  before = await storedKeys();
});
afterAll(async () => {
  redis.disconnect();
  await t.close();
});

type Case = [name: string, contentType: string, query: string, body: string | Buffer, status: number, code: string, path: string | null, detail?: RegExp];

const CSV = 'text/csv';
const JSONT = 'application/json';
const DATASET_CASES: Case[] = [
  ['ragged row', CSV, '', 'a,b\n1,2\n3\n4,5\n', 400, 'invalid_csv', 'csv:3', /line 3 has 1 fields but the header has 2/],
  ['non-numeric cell', CSV, '', 'a,b\n1,2\n3,x\n', 400, 'invalid_csv', 'csv:3:2', /line 3, column 2 \('b'\)/],
  ['empty cell', CSV, '', 'a,b\n1,\n3,4\n', 400, 'invalid_csv', 'csv:2:2', /is empty/],
  ['NaN', CSV, '', 'a,b\n1,2\nNaN,4\n', 400, 'invalid_csv', 'csv:3:1', /not a finite decimal number/],
  ['Infinity', CSV, '', 'a,b\n1,2\n3,Infinity\n', 400, 'invalid_csv', 'csv:3:2', /not a finite/],
  ['overflow to Infinity', CSV, '', 'a,b\n1,2\n1e400,4\n', 400, 'invalid_csv', 'csv:3:1', /not a finite/],
  ['hex', CSV, '', 'a,b\n1,2\n0x10,4\n', 400, 'invalid_csv', 'csv:3:1', /decimal/],
  ['blank lines counted in the line number', CSV, '', 'a,b\n1,2\n\n\n3,?\n', 400, 'invalid_csv', 'csv:5:2', /line 5/],
  ['header only', CSV, '', 'a,b\n', 400, 'invalid_csv', 'body', /no data rows/],
  ['empty body', CSV, '', '', 400, 'invalid_csv', 'body', /empty/],
  ['no header (all-numeric first line)', CSV, '', '1,2\n3,4\n5,6\n', 400, 'invalid_csv', 'csv:1', /header row naming the columns is required/],
  ['duplicate column names', CSV, '', 'a,b,a\n1,2,3\n4,5,6\n', 400, 'invalid_csv', 'csv:1:3', /'a' appears twice/],
  ['unnamed column', CSV, '', 'a,,b\n1,2,3\n4,5,6\n', 400, 'invalid_csv', 'csv:1:2', /no name/],
  ['unknown target column', CSV, '?target=zz', 'a,b\n1,2\n3,4\n', 400, 'validation_failed', 'target', /no column 'zz'.*\?target=/],
  ['single row', CSV, '', 'a,b\n1,2\n', 400, 'invalid_csv', 'body', /at least 2 rows/],
  ['one column', CSV, '', 'a\n1\n2\n', 400, 'invalid_csv', 'csv:1', /two columns/],
  ['unterminated quote', CSV, '', 'a,b\n"1,2\n3,4\n', 400, 'invalid_csv', 'csv:2', /never closed/],
  ['rows over MAX_DATASET_ROWS', CSV, '', 'a,b\n' + '1,2\n'.repeat(51), 413, 'too_many_rows', 'body', /MAX_DATASET_ROWS/],
  ['columns over MAX_DATASET_COLUMNS', CSV, '', Array.from({ length: 13 }, (_, i) => `c${i}`).join(',') + '\n', 413, 'too_many_columns', 'csv:1', /MAX_DATASET_COLUMNS/],
  ['a CSV bomb: 5 MB of commas in the header', CSV, '', ','.repeat(5_000_000) + '\n', 413, 'too_many_columns', 'csv:1', /MAX_DATASET_COLUMNS/],
  ['a CSV bomb: 5 MB of commas in a data row', CSV, '', 'a,b\n1,2\n' + ','.repeat(5_000_000) + '\n', 400, 'invalid_csv', 'csv:3', /more fields than the header/],
  ['invalid UTF-8', CSV, '', Buffer.concat([Buffer.from('a,b\n1,2\n'), Buffer.from([0xc3, 0x28]), Buffer.from(',3\n')]), 400, 'invalid_encoding', 'body', /not valid UTF-8 .*offset 8/],
  ['bytes over MAX_DATASET_BYTES', CSV, '', 'a,b\n' + '1,2\n'.repeat(1_700_000), 413, 'fst_err_ctp_body_too_large', null],
  ['text/plain', 'text/plain', '', 'a,b\n1,2\n3,4\n', 415, 'unsupported_media_type', null],
  ['application/xml', 'application/xml', '', '<a/>', 415, 'fst_err_ctp_invalid_media_type', null],
  ['unknown query field', CSV, '?colour=red', 'a,b\n1,2\n3,4\n', 400, 'validation_failed', 'colour'],
  ['JSON ragged features', JSONT, '', '{"features":[[1,2],[3]],"targets":[0,1]}', 400, 'validation_failed', 'features.1', /same width/],
  ['JSON string cell', JSONT, '', '{"features":[[1,2],[3,"x"]],"targets":[0,1]}', 400, 'validation_failed', 'features.1.1'],
  ['JSON null cell', JSONT, '', '{"features":[[1,2],[null,4]],"targets":[0,1]}', 400, 'validation_failed', 'features.1.0'],
  ['JSON overflow to Infinity', JSONT, '', '{"features":[[1,2],[1e400,4]],"targets":[0,1]}', 400, 'validation_failed', 'features.1.0'],
  ['JSON targets count ≠ rows', JSONT, '', '{"features":[[1],[2]],"targets":[0]}', 400, 'validation_failed', 'targets', /one target per row/],
  ['JSON mixed target shapes', JSONT, '', '{"features":[[1],[2]],"targets":[[0],1]}', 400, 'validation_failed', 'targets'],
  ['JSON single row', JSONT, '', '{"features":[[1]],"targets":[0]}', 400, 'validation_failed', 'features', /at least 2 rows/],
  ['JSON no rows', JSONT, '', '{"features":[],"targets":[]}', 400, 'validation_failed', 'features'],
  ['JSON unknown field', JSONT, '', '{"features":[[1],[2]],"targets":[0,1],"extra":1}', 400, 'validation_failed', 'extra'],
  ['JSON rows over MAX_DATASET_ROWS', JSONT, '', JSON.stringify({ features: Array.from({ length: 51 }, () => [1]), targets: Array(51).fill(0) }), 413, 'too_many_rows', 'features'],
  ['JSON columns over MAX_DATASET_COLUMNS', JSONT, '', JSON.stringify({ features: [Array(12).fill(1), Array(12).fill(1)], targets: [0, 1] }), 413, 'too_many_columns', 'features.0'],
  ['multipart without a file', 'multipart/form-data; boundary=B', '', '--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--B--\r\n', 400, 'invalid_multipart', 'file'],
  ['multipart name over 200 characters', 'multipart/form-data; boundary=B', '', `--B\r\nContent-Disposition: form-data; name="name"\r\n\r\n${'n'.repeat(201)}\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na,b\n1,2\n3,4\n\r\n--B--\r\n`, 400, 'validation_failed', 'name'],
  ['multipart with a bad CSV', 'multipart/form-data; boundary=B', '', '--B\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n3,x\n\r\n--B--\r\n', 400, 'invalid_csv', 'csv:3:2'],
];

describe('POST /v1/datasets: bad uploads → precise 4xx, nothing stored', () => {
  it.each(DATASET_CASES)('%s → %i %s at %s', async (_n, type, query, body, status, code, path, detail) => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/datasets${query}`, headers: { 'content-type': type }, payload: body });
    const p = problem(res);
    expect([p.status, p.code]).toEqual([status, code]);
    expect(p.type).toBe(`urn:tsnn:problem:${code}`);
    if (path !== null) expect(p.errors?.map((e) => e.path)).toContain(path);
    if (detail) expect(p.detail).toMatch(detail);
  });
});

const job = (over: Record<string, unknown> = {}, ds = () => dsClass) => ({ ...moonsSpec(ds(), 2), ...over });
const layers = (...l: [number, string][]) => ({ layers: l.map(([units, activation]) => ({ units, activation })) });
type SpecCase = [name: string, body: () => unknown, status: number, code: string, path: string, detail?: RegExp];
const SPEC_CASES: SpecCase[] = [
  ['unknown top-level field', () => job({ colour: 'red' }), 400, 'validation_failed', 'colour'],
  ['unknown optimizer field', () => job({ optimizer: { type: 'adam', learningrate: 0.1 } }), 400, 'validation_failed', 'optimizer.learningrate'],
  ['unknown layer field', () => job({ model: { layers: [{ units: 2, activation: 'softmax', dropout: 0.5 }] } }), 400, 'validation_failed', 'model.layers.0.dropout'],
  ['learningRate 0', () => job({ optimizer: { type: 'adam', learningRate: 0 } }), 400, 'validation_failed', 'optimizer.learningRate'],
  ['learningRate < 0', () => job({ optimizer: { type: 'sgd', learningRate: -1 } }), 400, 'validation_failed', 'optimizer.learningRate'],
  ['beta1 = 1', () => job({ optimizer: { type: 'adam', beta1: 1 } }), 400, 'validation_failed', 'optimizer.beta1'],
  ['beta2 > 1', () => job({ optimizer: { type: 'adam', beta2: 1.5 } }), 400, 'validation_failed', 'optimizer.beta2'],
  ['epsilon 0', () => job({ optimizer: { type: 'adam', epsilon: 0 } }), 400, 'validation_failed', 'optimizer.epsilon'],
  ['batchSize 0', () => job({ batchSize: 0 }), 400, 'validation_failed', 'batchSize'],
  ['batchSize not an integer', () => job({ batchSize: 1.5 }), 400, 'validation_failed', 'batchSize'],
  ['epochs over the cap', () => job({ epochs: 100_001 }), 400, 'validation_failed', 'epochs'],
  ['units over the cap', () => job({ model: layers([5000, 'relu'], [2, 'softmax']) }), 400, 'validation_failed', 'model.layers.0.units'],
  ['layers over the cap', () => job({ model: { layers: Array.from({ length: 33 }, () => ({ units: 2, activation: 'relu' })) } }), 400, 'validation_failed', 'model.layers'],
  ['unknown activation', () => job({ model: layers([2, 'swish']) }), 400, 'validation_failed', 'model.layers.0.activation'],
  ['softmax_cross_entropy without softmax output', () => job({ model: layers([8, 'relu'], [2, 'sigmoid']) }), 400, 'validation_failed', 'model.layers.1.activation', /needs a softmax output/],
  ['softmax on a hidden layer', () => job({ model: layers([8, 'softmax'], [2, 'softmax']) }), 400, 'validation_failed', 'model.layers.0.activation'],
  ['mse with a softmax output', () => job({ loss: 'mse', model: layers([8, 'relu'], [1, 'softmax']) }), 400, 'validation_failed', 'model.layers.1.activation'],
  ['binary_cross_entropy without sigmoid', () => job({ loss: 'binary_cross_entropy', model: layers([8, 'relu'], [1, 'linear']) }), 400, 'validation_failed', 'model.layers.1.activation'],
  ['output units ≠ classes', () => job({ model: layers([8, 'relu'], [3, 'softmax']) }), 400, 'validation_failed', 'model.layers.1.units', /has 2 classes.*set units to 2/],
  ['output units ≠ target count (mse)', () => job({ loss: 'mse', model: layers([8, 'relu'], [2, 'linear']) }, () => dsReal), 400, 'validation_failed', 'model.layers.1.units', /set units to 1/],
  ['classification on real targets', () => job({}, () => dsReal), 400, 'validation_failed', 'loss', /has label 0\.5 in row 0.*use mse/],
  ['labels out of range for the output layer', () => job({ model: layers([8, 'relu'], [2, 'softmax']) }, () => dsFive), 400, 'validation_failed', 'model.layers.1.units', /5 classes \(labels 0\.\.4\)/],
  ['negative labels', () => job({}, () => dsNeg), 400, 'validation_failed', 'loss', /has label -1 in row 0/],
  ['binary_cross_entropy on 5 classes', () => job({ loss: 'binary_cross_entropy', model: layers([8, 'relu'], [1, 'sigmoid']) }, () => dsFive), 400, 'validation_failed', 'loss'],
  ['over MAX_PARAMS', () => job({ model: layers([4000, 'relu'], [2, 'softmax']) }), 400, 'validation_failed', 'model.layers', /20002 parameters.*MAX_PARAMS/],
  ['over MAX_TRAINING_COST', () => job({ epochs: 100_000 }), 400, 'validation_failed', 'epochs', /MAX_TRAINING_COST\); use at most \d+ epochs/],
  ['clip without its value', () => job({ clip: { type: 'value' } }), 400, 'validation_failed', 'clip.value', /^clip\.value: required \(a finite number > 0\)$/],
  ['validationSplit = 1', () => job({ validationSplit: 1 }), 400, 'validation_failed', 'validationSplit'],
  ['unknown dataset', () => job({ datasetId: 'ds_nope' }), 404, 'dataset_not_found', 'datasetId'],
  ['body over MAX_BODY_BYTES', () => job({ pad: 'x'.repeat(5000) }), 413, 'fst_err_ctp_body_too_large', ''],
];

describe('POST /v1/jobs: bad specs → 400 naming the field, nothing queued', () => {
  it.each(SPEC_CASES)('%s → %i %s at %s', async (_n, body, status, code, path, detail) => {
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/jobs', payload: body() as object }));
    expect([p.status, p.code]).toEqual([status, code]);
    if (path) expect(p.errors?.map((e) => e.path)).toContain(path);
    if (detail) expect(p.detail).toMatch(detail);
  });
});

type PredictCase = [name: string, body: string, status: number, code: string, path: string | null];
const PREDICT_CASES: PredictCase[] = [
  ['wrong feature count', '{"features":[[1,2],[1,2,3]]}', 400, 'validation_failed', 'features.1'],
  ['string value', '{"features":[[1,"2"]]}', 400, 'validation_failed', 'features.0.1'],
  ['null value', '{"features":[[null,2]]}', 400, 'validation_failed', 'features.0.0'],
  ['overflow to Infinity', '{"features":[[1e999,2]]}', 400, 'validation_failed', 'features.0.0'],
  ['no rows', '{"features":[]}', 400, 'validation_failed', 'features'],
  ['a row that is not an array', '{"features":[1,2]}', 400, 'validation_failed', 'features.0'],
  ['unknown field', '{"features":[[1,2]],"x":1}', 400, 'validation_failed', 'x'],
  ['rows over MAX_PREDICT_ROWS', JSON.stringify({ features: Array.from({ length: 6 }, () => [1, 2]) }), 413, 'too_many_rows', 'features'],
  ['not JSON', '{"features":', 400, 'fst_err_ctp_invalid_json_body', null],
];

describe('POST /v1/jobs/{id}/predict: bad rows → 400/413 with paths', () => {
  it.each(PREDICT_CASES)('%s → %i %s at %s', async (_n, body, status, code, path) => {
    const p = problem(await t.app.inject({ method: 'POST', url: `/v1/jobs/${done}/predict`, headers: { 'content-type': 'application/json' }, payload: body }));
    expect([p.status, p.code]).toEqual([status, code]);
    if (path !== null) expect(p.errors?.map((e) => e.path)).toContain(path);
  });

  it('a good request still works (the cases above are refused for their content, not the job)', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${done}/predict`, payload: { features: [[0, 0], [1, 0.5]] } });
    expect(res.statusCode).toBe(200);
    expect(res.json().predictions).toHaveLength(2);
  });
});

describe('after every refused request', () => {
  it('no key was added, removed or changed under the prefix (apart from the BullMQ queue)', async () => {
    expect(await storedKeys()).toEqual(before);
    expect((await t.app.inject({ url: '/v1/jobs' })).json().items).toHaveLength(1);
  });
});
