import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/redis.js';

/** An app whose pino output (level `level`) is collected as parsed lines. */
async function loggedApp(env: Record<string, string>, level = 'trace') {
  const prefix = uniquePrefix('logs');
  const lines: string[] = [];
  const app = await buildApp(testConfig(prefix, env), { level, stream: { write: (l: string) => lines.push(l) } } as never);
  return { app, lines, close: async () => (await app.close(), await deletePrefix(prefix)) };
}

describe('logs', () => {
  it('never contain an API key, valid or not, even at trace level with headers logged by a plugin', async () => {
    const key = 'secret-key-never-logged-0123456789';
    const t = await loggedApp({ API_KEYS: `${key}:a` });
    try {
      // a handler that logs the whole headers object, as a careless plugin might
      t.app.log.info({ headers: { authorization: `Bearer ${key}` } }, 'headers seen');
      await t.app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${key}` } });
      await t.app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${key}-wrong` } });
      await t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${key}` } });
      expect(t.lines.length).toBeGreaterThan(3);
      expect(t.lines.join('\n')).not.toContain(key);
      expect(t.lines.some((l) => l.includes('[redacted]'))).toBe(true);
      expect(t.lines.some((l) => /API keys required on \/v1/.test(l))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('say at start-up that the API is open when API_KEYS is unset', async () => {
    const t = await loggedApp({}, 'warn');
    try {
      const warn = t.lines.map((l) => JSON.parse(l)).find((l) => /API_KEYS is not set/.test(l.msg));
      expect(warn?.level).toBe(40);
    } finally {
      await t.close();
    }
  });
});
