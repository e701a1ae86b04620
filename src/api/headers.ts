/**
 * Schemas of the request headers the API reads (declare them in a route's `schema.headers`, lowercase
 * names: a bad value is a 400 with `in: "header"`), and `Accept` parsing and negotiation
 * (RFC 9110 §12.5.1) for routes that offer more than one media type.
 */
import { z } from 'zod';
import { HttpProblem } from './problem.js';

export interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const Q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/;

/** The media ranges of an Accept value, or a message saying why it is not one. */
export function parseAccept(value: string): MediaRange[] | string {
  const ranges: MediaRange[] = [];
  for (const part of value.split(',')) {
    const [range, ...params] = part.split(';').map((s) => s.trim());
    if (range === '' && params.length === 0) continue; // empty list elements are allowed
    const [type, subtype, extra] = range.split('/');
    if (extra !== undefined || !type || !subtype || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*'))
      return `'${range.slice(0, 40)}' is not a media range (type/subtype, e.g. application/json)`;
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq <= 0 || !TOKEN.test(p.slice(0, eq).trim())) return `'${p.slice(0, 40)}' is not a media type parameter (name=value)`;
      if (p.slice(0, eq).trim().toLowerCase() === 'q') {
        const v = p.slice(eq + 1).trim();
        if (!Q.test(v)) return `q=${v.slice(0, 20)} is not a weight between 0 and 1 (at most 3 decimals)`;
        q = Number(v);
      }
    }
    ranges.push({ type: type.toLowerCase(), subtype: subtype.toLowerCase(), q });
  }
  return ranges;
}

/**
 * The offered media type the client prefers: the highest q of the most specific range matching
 * it; ties go to the order of `offered`. No Accept header means the first offer; undefined when
 * nothing offered is acceptable (a 406).
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | undefined {
  if (accept === undefined || accept.trim() === '') return offered[0];
  const ranges = parseAccept(accept);
  if (typeof ranges === 'string') return undefined;
  let best: string | undefined;
  let bestQ = 0;
  for (const media of offered) {
    const [type, subtype] = media.split('/');
    const match = ranges
      .filter((r) => (r.type === '*' || r.type === type) && (r.subtype === '*' || r.subtype === subtype))
      .sort((a, b) => Number(b.type !== '*') + Number(b.subtype !== '*') - (Number(a.type !== '*') + Number(a.subtype !== '*')))[0];
    if (match && match.q > bestQ) [best, bestQ] = [media, match.q];
  }
  return best;
}

/** `Idempotency-Key` request header: the same key and body give the same resource. */
export const IdempotencyKeyHeader = z.string().min(1).max(200);

/** `Last-Event-ID` request header: the `id:` of the last event received. */
export const LastEventIdHeader = z.string().regex(/^\d{1,15}$/, { error: 'must be an event id (a non-negative integer)' });

/** `Accept` request header: a list of media ranges (what the route answers is negotiated from it). */
export const AcceptHeader = z
  .string()
  .max(1024)
  .superRefine((v, ctx) => {
    const r = parseAccept(v);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: `not an Accept value: ${r}` });
  });

/** `schema.headers` of a route that answers JSON or CSV by Accept. */
export const JsonOrCsvHeadersSchema = z.object({ accept: AcceptHeader.optional().describe('application/json (the default) or text/csv') });

/** The media type to answer from the request's Accept among `offered` (first = default); a 406 naming Accept when none fits. */
export function negotiateOr406<T extends string>(accept: string | undefined, offered: readonly T[]): T {
  const media = negotiate(accept, offered) as T | undefined;
  if (media) return media;
  throw new HttpProblem(406, 'not_acceptable', `Accept: ${String(accept).slice(0, 100)} names no media type this route answers; send Accept: ${offered.join(' or ')}`, [
    { path: 'accept', message: `must accept ${offered.join(' or ')}`, in: 'header' },
  ]);
}
