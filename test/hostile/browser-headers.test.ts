/**
 * Security headers as a browser meets them: Swagger UI (/docs) and the dashboard (/ui/) render in
 * headless Chromium under the CSP the server sends, with no CSP violation; CORS stays off unless
 * CORS_ORIGINS is set.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.js';

declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

describe('headers without a browser', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    t = await testApp('headers');
  });
  afterAll(async () => t.close());

  it('HTML and API responses carry helmet headers, without upgrade-insecure-requests', async () => {
    for (const url of ['/docs/', '/ui/', '/v1/jobs', '/healthz']) {
      const res = await t.app.inject({ url });
      const csp = String(res.headers['content-security-policy']);
      expect([url, res.statusCode]).toEqual([url, 200]);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    }
  });

  it('no CORS headers unless CORS_ORIGINS is set; with it, only the listed origins', async () => {
    const pre = { method: 'OPTIONS' as const, url: '/v1/jobs', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } };
    const closed = await t.app.inject(pre);
    expect(closed.headers['access-control-allow-origin']).toBeUndefined();
    const open = await testApp('cors', { CORS_ORIGINS: 'https://app.example' });
    try {
      const ok = await open.app.inject({ ...pre, headers: { ...pre.headers, origin: 'https://app.example' } });
      expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(String(ok.headers['access-control-allow-methods'])).toContain('DELETE');
      const evil = await open.app.inject(pre);
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await open.close();
    }
  });
});

describe.skipIf(!hasChromium)(`pages under the server's CSP in headless Chromium (needs ${CHROMIUM})`, () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let base: string;
  let browser: import('playwright-core').Browser;
  beforeAll(async () => {
    t = await testApp('csp');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function visit(path: string, ready: string) {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const res = await page.goto(base + path, { waitUntil: 'load' });
    await page.waitForSelector(ready, { timeout: 20_000 });
    const text = await page.evaluate(() => document.body.innerText as string);
    await page.close();
    return { status: res?.status(), csp: res?.headers()['content-security-policy'], problems, text };
  }

  it('Swagger UI renders the API document with no CSP violation', async () => {
    const r = await visit('/docs/', '.swagger-ui .info .title');
    expect(r.status).toBe(200);
    expect(r.csp).toContain("script-src 'self'");
    expect(r.text).toContain('tsnn trainer service');
    expect(r.text).toContain('/v1/jobs');
    expect(r.problems.filter((p) => /Content Security Policy|Refused/.test(p))).toEqual([]);
  }, 60_000);

  it('the dashboard loads with no CSP violation', async () => {
    const r = await visit('/ui/', 'body');
    expect(r.status).toBe(200);
    expect(r.problems.filter((p) => /Content Security Policy|Refused/.test(p))).toEqual([]);
  }, 60_000);
});
