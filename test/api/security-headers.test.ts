import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helmetHeaders } from '../../src/api/security-headers.js';
import { testApp } from '../helpers/app.js';

let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  t = await testApp('hdrs');
});
afterAll(async () => t.close());

describe('security headers computed once from helmet', () => {
  it('records what helmet sets: strict CSP without upgrade-insecure-requests, frame and sniffing guards', () => {
    const { set } = helmetHeaders({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
    expect(set['content-security-policy']).toContain("script-src 'self'");
    expect(set['content-security-policy']).toContain("object-src 'none'");
    expect(set['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(set['x-frame-options']).toBe('SAMEORIGIN');
    expect(set['x-content-type-options']).toBe('nosniff');
    expect(set['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('every response carries them: a route, a problem, a 404', async () => {
    const { set } = helmetHeaders({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
    for (const url of ['/healthz', '/v1/jobs/job_0000000000000000000000', '/no/such/path']) {
      const res = await t.app.inject({ url });
      for (const [k, v] of Object.entries(set)) expect([url, k, res.headers[k]]).toEqual([url, k, v]);
    }
  });
});
