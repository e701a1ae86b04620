/**
 * Streamed uploads over real HTTP: gzip (declared or recognized), JSON Lines, a gzipped multipart
 * file, an early 413 from Content-Length, and a connection cut half-way that leaves nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problem, testApp } from '../helpers/app.js';

let t: Awaited<ReturnType<typeof testApp>>;
let port: number;
beforeAll(async () => {
  t = await testApp('dsstream', { MAX_DATASET_BYTES: String(1024 * 1024) });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(async () => t.close());

const rowsCsv = (n: number) => 'x,y,label\n' + Array.from({ length: n }, (_, i) => `${i},${i / 4},${i % 3}`).join('\n') + '\n';
const post = (headers: Record<string, string>, payload: Buffer | string, url = '/v1/datasets') => t.app.inject({ method: 'POST', url, headers, payload });

describe('streamed uploads', () => {
  it('gzip with Content-Encoding, and a .csv.gz body recognized by its bytes', async () => {
    const gz = gzipSync(rowsCsv(1000));
    for (const headers of [{ 'content-type': 'text/csv', 'content-encoding': 'gzip' }, { 'content-type': 'text/csv' }] as Record<string, string>[]) {
      const res = await post(headers, gz);
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ rows: 1000, features: 2, classes: 3, dtype: 'float32', columns: ['x', 'y'] });
      const loaded = await t.app.svc.datasets.load(res.json().id);
      expect([loaded!.features[2 * 999], loaded!.features[2 * 999 + 1], loaded!.targets[999]]).toEqual([999, 999 / 4, 0]);
    }
    expect(problem(await post({ 'content-type': 'text/csv', 'content-encoding': 'br' }, 'x,y\n1,2\n3,4\n')).status).toBe(415);
    expect(problem(await post({ 'content-type': 'text/csv', 'content-encoding': 'gzip' }, 'x,y\n1,2\n3,4\n')).code).toBe('invalid_gzip');
  });

  it('a gzip bomb stops at MAX_DATASET_BYTES decompressed', async () => {
    const p = problem(await post({ 'content-type': 'text/csv' }, gzipSync('x,y\n' + '1,2\n'.repeat(600_000))));
    expect(p.status).toBe(413);
    expect(p.detail).toMatch(/decompressed/);
  });

  it('JSON Lines with ?target=', async () => {
    const body = '{"a":1,"b":0.5,"c":0}\n{"a":2,"b":1.5,"c":1}\n{"a":3,"b":2.5,"c":1}\n';
    const res = await post({ 'content-type': 'application/x-ndjson' }, body, '/v1/datasets?target=a&name=j');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'j', rows: 3, features: 2, columns: ['b', 'c'], targetColumns: ['a'] });
    const p = problem(await post({ 'content-type': 'application/jsonl' }, '{"a":1,"b":2}\n[1,2]\n'));
    expect(p.errors?.[0].path).toBe('jsonl:2');
  });

  it('multipart: a gzipped file, and a target field after the file', async () => {
    const b = 'B';
    const body = Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="d.csv.gz"\r\nContent-Type: application/gzip\r\n\r\n`),
      gzipSync(rowsCsv(50)),
      Buffer.from(`\r\n--${b}\r\nContent-Disposition: form-data; name="target"\r\n\r\nx\r\n--${b}--\r\n`),
    ]);
    const res = await post({ 'content-type': `multipart/form-data; boundary=${b}` }, body);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ rows: 50, columns: ['y', 'label'], targetColumns: ['x'] });
  });

  it('a Content-Length over MAX_DATASET_BYTES → 413 before reading, connection closed', async () => {
    const res = await new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
      const req = http.request({ port, method: 'POST', path: '/v1/datasets', headers: { 'content-type': 'text/csv', 'content-length': String(2 * 1024 * 1024) } }, (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode!, body, connection: r.headers.connection }));
      });
      req.on('error', reject);
      req.write('x,y\n1,2\n'); // the rest never comes
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).code).toBe('fst_err_ctp_body_too_large');
    expect(res.connection).toBe('close');
  });

  it('a connection cut half-way stores nothing and the server goes on', async () => {
    const before = (await t.app.inject({ url: '/v1/datasets?limit=100' })).json().items.length;
    await new Promise<void>((resolve) => {
      const req = http.request({ port, method: 'POST', path: '/v1/datasets?name=cut', headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } });
      req.on('error', () => resolve());
      req.write(rowsCsv(5000).slice(0, 30_000));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await new Promise((r) => setTimeout(r, 200)); // the point: a while after the cut, nothing of the upload is left
    const after = (await t.app.inject({ url: '/v1/datasets?limit=100' })).json().items;
    expect(after.length).toBe(before);
    expect(after.some((d: { name: string }) => d.name === 'cut')).toBe(false);
    expect((await post({ 'content-type': 'text/csv' }, rowsCsv(3))).statusCode).toBe(201);
  });
});
