import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problem, testApp } from '../helpers/app.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('hostile');
});
afterAll(async () => t.close());

const json = { 'content-type': 'application/json' };
const csv = { 'content-type': 'text/csv' };

// [method, url, headers, body, expected status, expected problem code]
const CASES: [string, string, Record<string, string>, string | Buffer | undefined, number, string][] = [
  ['POST', '/v1/datasets', json, '{bad', 400, 'fst_err_ctp_invalid_json_body'],
  ['POST', '/v1/datasets', json, '', 400, 'fst_err_ctp_empty_json_body'],
  ['POST', '/v1/datasets', { 'content-type': 'multipart/form-data; boundary=x' }, 'garbage', 400, 'invalid_multipart'],
  ['POST', '/v1/datasets', { 'content-type': 'multipart/form-data' }, 'garbage', 400, 'invalid_multipart'],
  ['POST', '/v1/datasets', csv, 'a,b\n"1,2\n', 400, 'invalid_csv'],
  ['POST', '/v1/datasets', csv, '', 400, 'invalid_csv'],
  ['POST', '/v1/datasets', csv, 'a\n1\n', 400, 'invalid_csv'],
  ['POST', '/v1/datasets', csv, 'a,b\n1e309,1\n', 400, 'invalid_csv'],
  ['POST', '/v1/datasets', csv, 'a,b\n0x10,1\n', 400, 'invalid_csv'],
  ['POST', '/v1/datasets', csv, 'a,b\nInfinity,1\n', 400, 'invalid_csv'],
  ['POST', '/v1/datasets', json, '{"features":[[1e309]],"targets":[1]}', 400, 'validation_failed'],
  ['POST', '/v1/datasets', json, '{"features":[[1]],"targets":[[1],2]}', 400, 'validation_failed'],
  ['POST', '/v1/datasets', json, '[]', 400, 'validation_failed'],
  ['POST', '/v1/datasets', json, 'null', 400, 'validation_failed'],
  ['POST', '/v1/jobs', json, 'null', 400, 'validation_failed'],
  ['POST', '/v1/jobs', json, '{"datasetId":"x","model":{"layers":[]},"loss":"mse","optimizer":{"type":"sgd"},"epochs":1,"batchSize":1}', 400, 'validation_failed'],
  ['POST', '/v1/jobs', json, '{"__proto__":{"x":1}}', 400, 'fst_err_ctp_invalid_json_body'],
  ['GET', '/v1/jobs?limit=abc', {}, undefined, 400, 'validation_failed'],
  ['GET', '/v1/jobs?limit=1000', {}, undefined, 400, 'validation_failed'],
  ['GET', '/v1/jobs/%E0%A4%A', {}, undefined, 400, 'fst_err_bad_url'],
  ['GET', `/v1/datasets/${'a'.repeat(300)}`, {}, undefined, 414, 'fst_err_max_param_length'],
  ['GET', `/v1/datasets/${'a'.repeat(150)}`, {}, undefined, 400, 'validation_failed'],
  ['GET', '/v1/jobs/x/events?lastEventId=1e20', {}, undefined, 400, 'validation_failed'],
  ['POST', '/v1/jobs/x/predict', json, '{"features":[[1]]}', 404, 'not_found'],
  ['DELETE', '/v1/jobs/x', {}, undefined, 404, 'not_found'],
];

describe('malformed requests get a precise 4xx problem, never a 5xx', () => {
  it.each(CASES)('%s %s %j %j → %i %s', async (method, url, headers, payload, status, code) => {
    const res = await t.app.inject({ method: method as 'GET', url, headers, payload });
    const p = problem(res);
    expect(p.status).toBe(status);
    expect(p.code).toBe(code);
  });

  it('nothing was stored by any of them', async () => {
    expect((await t.app.inject({ url: '/v1/datasets' })).json().items).toEqual([]);
    expect((await t.app.inject({ url: '/v1/jobs' })).json().items).toEqual([]);
  });
});
