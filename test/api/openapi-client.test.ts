/**
 * The committed OpenAPI document is usable by a real generator: openapi-typescript's types
 * (`openapi/openapi.d.ts`, written by `npm run openapi`) are fresh, the project's tsc type-checks a
 * client script written against them (test/openapi-client/readme-session.ts, whose
 * `@ts-expect-error` lines must stay errors), and that script, on openapi-fetch, drives the
 * README's curl session against the real service (`npm start`: API + worker, real Redis).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_TYPES_PATH, renderClientTypes } from '../../scripts/openapi.js';
import { readmeSession } from '../openapi-client/readme-session.js';
import { root, startStack, type Stack } from '../ops/stack.js';

const run = promisify(execFile);
const SCRIPT = resolve(root, 'test/openapi-client/readme-session.ts');
// the README's tiny.csv, repeated so a 2-16-2 network separates it for sure
const TINY = 'x,y,label\n0.1,0.9,0\n"0.2",0.8,0\n0.9,0.1,1\n0.8,0.3,1\n0.15,0.7,0\n0.95,0.2,1\n';

describe('a client generated from openapi/openapi.json', () => {
  it('openapi/openapi.d.ts is what openapi-typescript generates from the committed document (run `npm run openapi` when this fails)', { timeout: 60_000 }, () => {
    expect(readFileSync(OPENAPI_TYPES_PATH, 'utf8')).toBe(renderClientTypes());
    const types = readFileSync(OPENAPI_TYPES_PATH, 'utf8');
    for (const op of ['uploadDataset', 'createJob', 'getJob', 'predictJob', 'listJobs', 'streamJobEvents', 'cancelJob']) expect(types).toContain(`${op}: {`);
  });

  it("the project's tsc type-checks the client script against the generated types (and rejects wrong calls)", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(root, 'test/openapi-client/.tsc-'));
    try {
      const tsconfig = { extends: relative(dir, resolve(root, 'tsconfig.json')), compilerOptions: { noEmit: true, rootDir: relative(dir, root) }, include: [relative(dir, SCRIPT)] };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
      const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
      const ok = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: root }).then(() => 'ok', (e: { stdout: string }) => e.stdout);
      expect(ok).toBe('ok');
      // without the @ts-expect-error markers the two wrong uses are type errors
      const bad = readFileSync(SCRIPT, 'utf8').replaceAll('// @ts-expect-error', '// (was expected)').replaceAll("'../../openapi/openapi.js'", `'${relative(dir, resolve(root, 'openapi/openapi.js'))}'`);
      writeFileSync(join(dir, 'bad.ts'), bad);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, include: ['bad.ts'] }));
      const errors = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: root }).then(() => '', (e: { stdout: string }) => e.stdout);
      expect(errors).toMatch(/bad\.ts\(\d+,\d+\): error TS\d+:.*limt/);
      expect(errors).toMatch(/bad\.ts\(\d+,\d+\): error TS\d+:.*'state'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('drives the README session (upload, submit, status, predict) against npm start', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ env: { PROGRESS_INTERVAL_MS: '50' } });
    }, 60_000);
    afterAll(async () => stack?.stop());

    it('with openapi-fetch and the generated types', { timeout: 120_000 }, async () => {
      const csv = TINY + TINY.split('\n').slice(1).join('\n').repeat(4);
      const s = await readmeSession(stack.url, csv, { idempotencyKey: `client-${process.pid}`, timeoutMs: 90_000 });
      expect(s.dataset).toMatchObject({ name: 'tiny', rows: 30, features: 2, classes: 2, columns: ['x', 'y'], targetColumns: ['label'] });
      expect(s.submitted).toMatchObject({ status: 'queued', datasetId: s.dataset.id });
      expect(s.replayed.id).toBe(s.submitted.id);
      expect(s.finished).toMatchObject({ id: s.submitted.id, status: 'completed', result: { epochsRun: 30 } });
      expect(s.predictions.predictions).toEqual([0, 1]);
      expect(s.typo.errors).toEqual([{ path: 'limt', message: "unknown query parameter; did you mean 'limit'?", in: 'query' }]);
    });
  });
});
