import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedTarget } from './target.js';

/** What one delivery attempt got back. */
export interface SendResult {
  statusCode: number;
  /** Milliseconds the receiver asked to wait (`Retry-After`, seconds or an HTTP date), capped at 24 h. */
  retryAfterMs?: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** `Retry-After: 120` or `Retry-After: <HTTP date>` in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const ms = /^\d+$/.test(v.trim()) ? Number(v.trim()) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), DAY_MS) : undefined;
}

/**
 * POSTs `body` to the checked target, connecting only to the addresses checked for it (a DNS
 * answer that changed since cannot redirect the request). Redirects are not followed (a 3xx is
 * returned like any other status); the whole exchange is bounded by `timeoutMs`. Rejects on a
 * network error or the timeout.
 */
export function sendWebhook(target: CheckedTarget, headers: Record<string, string>, body: string, timeoutMs: number): Promise<SendResult> {
  const { url, addresses } = target;
  const lookup: LookupFunction = (_host, opts, cb) => {
    if (opts.all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addresses);
    else cb(null, addresses[0].address, addresses[0].family);
  };
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: 'POST',
        lookup,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'tsnn-webhooks/1', ...headers },
      },
      (res) => {
        // Drain (and ignore) the answer; only its status and Retry-After matter.
        res.on('data', () => {});
        res.on('error', reject);
        res.on('end', () => {
          const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          resolve({ statusCode: res.statusCode ?? 0, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
        });
      },
    );
    req.on('error', (err) => reject(err.name === 'AbortError' || err.name === 'TimeoutError' ? new Error(`timed out after ${timeoutMs} ms`) : err));
    req.end(body);
  });
}
