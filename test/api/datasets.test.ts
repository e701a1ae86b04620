import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problem, testApp } from '../helpers/app.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('ds', { MAX_DATASET_BYTES: '4096' });
});
afterAll(async () => t.close());

const csv = (body: string, query = '') =>
  t.app.inject({ method: 'POST', url: `/v1/datasets${query}`, headers: { 'content-type': 'text/csv' }, payload: body });

function multipart(fields: Record<string, string>, file?: { name: string; body: string }) {
  const boundary = '----tsnnboundary';
  let s = '';
  for (const [k, v] of Object.entries(fields)) s += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  if (file) s += `--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="d.csv"\r\nContent-Type: text/csv\r\n\r\n${file.body}\r\n`;
  s += `--${boundary}--\r\n`;
  return t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: s });
}

describe('POST /v1/datasets', () => {
  it('text/csv: BOM, CRLF, quoted fields, target named in the query; values stored exactly', async () => {
    const res = await csv('\uFEFF"a",b,"the label",c\r\n1.5,"2",0,-1\r\n3,4.25,2,0.5\r\n', '?name=tiny&target=the%20label');
    expect(res.statusCode).toBe(201);
    const ds = res.json();
    expect(ds).toMatchObject({ name: 'tiny', rows: 2, features: 3, targets: 1, targetKind: 'integer', classes: 3, dtype: 'float32', bytes: (6 + 2) * 4 });
    expect(ds.columns).toEqual(['a', 'b', 'c']);
    expect(res.headers.location).toBe(`/v1/datasets/${ds.id}`);
    const loaded = await t.app.svc.datasets.load(ds.id);
    expect(Array.from(loaded!.features)).toEqual([1.5, 2, -1, 3, 4.25, 0.5]);
    expect(Array.from(loaded!.targets)).toEqual([0, 2]);
  });

  it('keeps float64 when float32 would round, and reports real targets without classes', async () => {
    const res = await csv('x,y\n0.1,0.3\n0.2,1\n');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ dtype: 'float64', targetKind: 'real', bytes: 4 * 8 });
    expect(res.json().classes).toBeUndefined();
    const loaded = await t.app.svc.datasets.load(res.json().id);
    expect(Array.from(loaded!.features)).toEqual([0.1, 0.2]);
    expect(Array.from(loaded!.targets)).toEqual([0.3, 1]);
  });

  it('JSON with 2-D targets', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { name: 'j', features: [[1, 2], [3, 4], [5, 6]], targets: [[0, 1], [1, 0], [0.5, 0.5]] } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'j', rows: 3, features: 2, targets: 2, targetKind: 'real' });
  });

  it('multipart with file, name and target fields', async () => {
    const res = await multipart({ name: 'mp', target: 'a' }, { name: 'file', body: 'a,b\n1,2\n0,3\n' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'mp', rows: 2, features: 1, classes: 2, columns: ['b'], targetColumns: ['a'] });
  });

  it.each([
    ['a non-numeric cell, naming line and column', 'x,y\n1,2\n3,abc\n', '', /line 3, column 2 \('y'\)/],
    ['an empty cell', 'x,y\n1,\n2,3\n', '', /line 2, column 2/],
    ['a ragged row', 'x,y\n1,2\n3\n', '', /line 3 has 1 fields/],
    ['a header only', 'x,y\n', '', /no data rows/],
    ['a duplicate column', 'x,x,y\n1,2,3\n', '', /appears twice/],
  ])('text/csv with %s → 400', async (_name, body, query, detail) => {
    const p = problem(await csv(body, query));
    expect(p.status).toBe(400);
    expect(p.detail).toMatch(detail);
  });

  it('unknown target column → 400 naming querystring.target', async () => {
    const p = problem(await csv('x,y\n1,2\n', '?target=z'));
    expect(p.errors).toEqual([expect.objectContaining({ path: 'target', in: 'query' })]);
    expect(p.detail).toContain("no column 'z'");
  });

  it.each([
    ['ragged features', { features: [[1, 2], [3]], targets: [0, 1] }, 'features.1'],
    ['targets count ≠ rows', { features: [[1], [2]], targets: [0] }, 'targets'],
    ['a string value', { features: [[1, 'a']], targets: [0] }, 'features.0.1'],
    ['a missing field', { targets: [0] }, 'features'],
    ['an unknown field', { features: [[1]], targets: [0], extra: 1 }, 'extra'],
  ])('JSON with %s → 400 with path %s', async (_n, payload, path) => {
    const p = problem(await t.app.inject({ method: 'POST', url: '/v1/datasets', payload }));
    expect(p.status).toBe(400);
    expect(p.errors?.map((e) => e.path)).toContain(path);
  });

  it('multipart without a file → 400', async () => {
    const p = problem(await multipart({ name: 'x' }));
    expect(p.status).toBe(400);
    expect(p.errors?.[0].path).toBe('file');
  });

  it('an unsupported media type → 415, a body over MAX_DATASET_BYTES → 413', async () => {
    expect(problem(await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/plain' }, payload: 'x' })).status).toBe(415);
    const big = 'x,y\n' + '1,2\n'.repeat(2000);
    expect(problem(await csv(big)).status).toBe(413);
    expect(problem(await multipart({}, { name: 'file', body: big })).status).toBe(413);
  });
});

describe('GET/DELETE /v1/datasets', () => {
  it('lists newest first with a cursor, gets one, deletes it', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await csv(`x,y\n${i},1\n${i},0\n`, `?name=p${i}`)).json().id);
    const page1 = (await t.app.inject({ url: '/v1/datasets?limit=2' })).json();
    expect(page1.items.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    expect(page1.next).toBe(ids[1]);
    const page2 = (await t.app.inject({ url: `/v1/datasets?limit=2&after=${page1.next}` })).json();
    expect(page2.items[0].id).toBe(ids[0]);
    expect((await t.app.inject({ url: `/v1/datasets/${ids[0]}` })).json().name).toBe('p0');
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${ids[0]}` })).statusCode).toBe(204);
    expect(problem(await t.app.inject({ url: `/v1/datasets/${ids[0]}` })).status).toBe(404);
    expect(problem(await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${ids[0]}` })).status).toBe(404);
    expect(await t.app.svc.datasets.load(ids[0])).toBeNull();
  });

  it('rejects a bad limit with the query path', async () => {
    const p = problem(await t.app.inject({ url: '/v1/datasets?limit=0' }));
    expect(p.errors?.[0]).toMatchObject({ path: 'limit', in: 'query' });
  });

  it('unknown routes are problem+json 404s', async () => {
    expect(problem(await t.app.inject({ url: '/v2/nothing' })).status).toBe(404);
  });
});
