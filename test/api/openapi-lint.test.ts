/**
 * The committed OpenAPI document lints clean with Redocly's recommended ruleset (no redocly.yaml:
 * every rule on): 0 errors, 0 warnings. Operation ids are stable verb-like names, one per operation.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OPENAPI_PATH } from '../../scripts/openapi.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);

describe('openapi/openapi.json lint', () => {
  it('redocly lint (recommended): 0 errors, 0 warnings', { timeout: 60_000 }, async () => {
    const res = await run(process.execPath, [resolve(ROOT, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', '--format=summary', OPENAPI_PATH], {
      cwd: ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    }).catch((e: { stdout: string; stderr: string }) => e);
    const out = `${res.stdout}\n${res.stderr}`;
    expect(out, out).toContain('Your API description is valid');
    expect(out, out).not.toMatch(/^(error|warning)\s/m);
    expect(out, out).not.toMatch(/You have \d+ warning/);
  });

  it('every operation has a unique verb-like operationId, tags and a security requirement', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, Record<string, { operationId?: string; tags?: string[]; security?: unknown[] }>>; tags: { name: string }[] };
    const ids: string[] = [];
    const tags = doc.tags.map((t) => t.name);
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z]+[A-Z][A-Za-z0-9]*$/);
        ids.push(op.operationId!);
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const t of op.tags!) expect(tags, `${method} ${path} tag ${t}`).toContain(t);
        expect(Array.isArray(op.security), `${method} ${path}`).toBe(true);
      }
    expect(new Set(ids).size).toBe(ids.length);
    // every query and header parameter says what it is (docs/api.md lists them too)
    type Param = { in: string; name: string; description?: string; schema?: { description?: string } };
    for (const [path, item] of Object.entries(doc.paths as unknown as Record<string, Record<string, { parameters?: Param[] }>>))
      for (const [method, op] of Object.entries(item))
        for (const p of op.parameters ?? []) if (p.in !== 'path') expect(p.description ?? p.schema?.description, `${method} ${path} ${p.in} ${p.name}`).toBeTruthy();
    const api = readFileSync(resolve(ROOT, 'docs/api.md'), 'utf8');
    const table = api.slice(api.indexOf('## Query parameters and headers'), api.indexOf('## Job lifecycle'));
    for (const [path, item] of Object.entries(doc.paths))
      for (const method of Object.keys(item)) {
        const row = table.split('\n').find((l) => l.startsWith('|') && l.split('|')[1].includes(`${path}\``) && new RegExp(`\\b${method.toUpperCase()}\\b`).test(l.split('|')[1]));
        expect(row, `docs/api.md: no row for ${method.toUpperCase()} ${path} in "Query parameters and headers"`).toBeDefined();
        for (const p of (item as Record<string, { parameters?: Param[] }>)[method].parameters ?? [])
          if (p.in === 'query') expect(row, `docs/api.md: the row of ${method.toUpperCase()} ${path} does not name its query parameter ${p.name}`).toContain(`\`${p.name}\``);
      }
    expect(ids).toEqual(expect.arrayContaining(['createJob', 'listJobs', 'getJob', 'streamJobEvents', 'cancelJob', 'predictJob', 'uploadDataset']));
  });
});
