/**
 * Rules every API route follows, installed once as an `onRoute` hook before any route is declared,
 * so routes added later (in any plugin) get them without doing anything.
 *
 * FOR WHOEVER ADDS A ROUTE (under /v1, or /healthz-like routes in the OpenAPI document):
 * - `schema.operationId`: a stable, verb-like name, unique in the API (`createJob`, `listJobs`,
 *   `getJob`, `cancelJob`...). Client generators name their methods after it; the app refuses to
 *   start without one.
 * - `schema.tags`: one of the document's tags (`datasets`, `jobs`, `health`, or a new one added to
 *   `tags` in src/api/openapi.ts).
 * - `schema.querystring`: a zod object if the route reads any query parameter. It is made strict
 *   here: an unknown parameter is a 400 naming it (`in: "query"`, with "did you mean" for a near
 *   miss), a wrong type a 400 with its path. A route without one refuses every query parameter,
 *   so a typo (or `?dryRun=true` on a route that has no dry run) never starts work silently.
 *   Booleans: use {@link QueryBoolean} (`z.coerce.boolean()` reads "false" as true).
 * - `schema.headers`: a zod object of the headers the route reads (lowercase names), e.g.
 *   `IdempotencyKeyHeader` (src/api/headers.ts); a bad value is a 400 with `in: "header"`. It
 *   only checks (see {@link checkOnlyHeaders}): `req.headers` stays what Node parsed, every header
 *   in it, so a header schema must not transform values.
 * Routes with `schema.hide` (UI, Swagger UI, Prometheus /metrics, Bull Board) are not API routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { HttpProblem, type FieldError } from './problem.js';

/** A query flag: exactly `true` or `false` (z.coerce.boolean() would read "false" as true). */
export const QueryBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

type Schema = {
  hide?: boolean;
  operationId?: string;
  tags?: string[];
  querystring?: unknown;
  headers?: unknown;
} & Record<string, unknown>;

/**
 * The validator compiler `compile`, except that a `headers` schema only checks: on success
 * `req.headers` stays the object Node parsed. (Fastify would set it to the schema's output, after
 * which each read of `req.headers` merges that output into a copy of Node's headers.)
 */
export function checkOnlyHeaders<S>(compile: FastifySchemaCompiler<S>): FastifySchemaCompiler<S> {
  return (route) => {
    const validate = compile(route) as (data: unknown) => { error?: Error; value?: unknown };
    if (route.httpPart !== 'headers') return validate;
    return (data: unknown) => {
      const result = validate(data);
      return result.error ? result : {};
    };
  };
}

/** Marks a query check so a route's hooks get it once (HEAD routes reuse their GET's options). */
const CHECKED = Symbol('strict-query');

const norm = (s: string) => s.toLowerCase().replace(/[-_.\s]/g, '');

/** Edit distance, for "did you mean" (names are short; a long input is cut first). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known name closest to `name` when it is a near miss (case, separators, or a typo or two), else undefined. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  const n = norm(name.slice(0, 64));
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(n, norm(k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  const limit = Math.max(1, Math.min(2, Math.floor(norm(best ?? '').length / 3)));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** How an unknown name is shown: bounded, control characters escaped. */
const shown = (name: string) => (name === '' ? '(empty name)' : JSON.stringify(name.length > 64 ? name.slice(0, 64) + '…' : name).slice(1, -1));

/** The 400 for query parameters a route does not take. */
export function unknownQueryParameters(route: string, unknown: string[], known: readonly string[]): HttpProblem {
  const takes = known.length ? `${route} takes ${known.join(', ')}` : `${route} takes no query parameters`;
  const errors: FieldError[] = unknown.slice(0, 50).map((name) => {
    const near = didYouMean(name, known);
    return { path: shown(name), message: near ? `unknown query parameter; did you mean '${near}'?` : `unknown query parameter; ${takes}`, in: 'query' };
  });
  const named = errors.slice(0, 5).map((e) => `'${e.path}'${e.message.includes('did you mean') ? ` (${e.message.slice(e.message.indexOf('did you mean'))})` : ''}`);
  const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : '';
  return new HttpProblem(
    400,
    'validation_failed',
    `unknown query parameter${unknown.length > 1 ? 's' : ''} ${named.join(', ')}${more}: ${takes}`,
    errors,
  );
}

/** An API route: a `/v1` route or any route in the OpenAPI document (not hidden). */
const isApiRoute = (url: string, schema: Schema | undefined) => !schema?.hide && (url === '/v1' || url.startsWith('/v1/') || schema !== undefined);

const OPERATION_ID = /^[a-z][A-Za-z0-9]*$/;

function checkDocumented(route: string, schema: Schema | undefined, seen: Map<string, string>, method: string): void {
  const fix = 'see the comment at the top of src/api/route-rules.ts';
  if (!schema) throw new Error(`${route}: an API route needs a schema with operationId and tags (${fix})`);
  if (typeof schema.operationId !== 'string' || !OPERATION_ID.test(schema.operationId))
    throw new Error(`${route}: schema.operationId must be a verb-like camelCase name such as getJob, got ${JSON.stringify(schema.operationId)} (${fix})`);
  if (!Array.isArray(schema.tags) || schema.tags.length === 0) throw new Error(`${route}: schema.tags is required (${fix})`);
  if (method === 'HEAD') return;
  const other = seen.get(schema.operationId);
  if (other && other !== route) throw new Error(`${route}: operationId '${schema.operationId}' is already used by ${other}`);
  seen.set(schema.operationId, route);
}

/** Query parameter names a zod object declares; throws for anything else. */
function declaredNames(route: string, qs: unknown): string[] {
  if (!(qs instanceof z.ZodObject)) throw new Error(`${route}: schema.querystring must be a zod object (z.object({...}))`);
  return Object.keys(qs.shape);
}

/** The schema inside optional/default/nullable wrappers. */
function unwrap(t: unknown): unknown {
  let cur = t as { _zod?: { def?: { innerType?: unknown } } };
  for (let i = 0; i < 10 && cur?._zod?.def?.innerType; i++) cur = cur._zod.def.innerType as typeof cur;
  return cur;
}

const asArray = <T>(h: T | T[] | undefined): T[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);

/** Installs the rules on `app` (before the routes are declared). */
export const routeRulesPlugin = fp(
  async (app: FastifyInstance) => {
    const operationIds = new Map<string, string>();
    app.addHook('onRoute', (opts: RouteOptions) => {
      const schema = opts.schema as Schema | undefined;
      const methods = asArray(opts.method as string | string[]);
      if (!isApiRoute(opts.url, schema)) return;
      const route = `${methods.join(',')} ${opts.url}`;
      checkDocumented(route, schema, operationIds, methods[0]);
      const s = schema!;
      const known = s.querystring === undefined ? [] : declaredNames(route, s.querystring);
      // parameters a client may repeat (?a=1&a=2): only those the schema declares as arrays
      const repeatable = new Set(known.filter((k) => unwrap((s.querystring as z.ZodObject).shape[k]) instanceof z.ZodArray));
      if (s.querystring instanceof z.ZodObject) s.querystring = s.querystring.strict();
      if (s.headers !== undefined) {
        if (!(s.headers instanceof z.ZodObject)) throw new Error(`${route}: schema.headers must be a zod object`);
        const upper = Object.keys(s.headers.shape).find((k) => k !== k.toLowerCase());
        if (upper) throw new Error(`${route}: header '${upper}' must be declared in lowercase (Node lowercases header names)`);
        // Only the declared headers are read (checkOnlyHeaders keeps req.headers whole): a loose
        // object would copy every other header into an output nothing uses.
        s.headers = z.object(s.headers.shape);
      }
      const hooks = asArray(opts.preParsing) as (RouteOptions['preParsing'] & { [CHECKED]?: true })[];
      if (hooks.some((h) => (h as { [CHECKED]?: true })[CHECKED])) return;
      const shownRoute = `${methods.filter((m) => m !== 'HEAD').join(',') || methods[0]} ${opts.url.replace(/:(\w+)/g, '{$1}')}`;
      const knownSet = new Set(known);
      // preParsing: after the API key check (a global preParsing hook) and before any body is read
      const check = Object.assign(
        async <P>(req: FastifyRequest, _reply: FastifyReply, payload: P): Promise<P> => {
          const q = req.query as Record<string, unknown> | null;
          if (q && typeof q === 'object') {
            const unknown = Object.keys(q).filter((k) => !knownSet.has(k));
            if (unknown.length) throw unknownQueryParameters(shownRoute, unknown, known);
            const repeated = known.filter((k) => Array.isArray(q[k]) && !repeatable.has(k));
            if (repeated.length)
              throw new HttpProblem(
                400,
                'validation_failed',
                repeated.map((k) => `${k}: given ${(q[k] as unknown[]).length} times; give it once`).join('; '),
                repeated.map((k) => ({ path: k, message: `given ${(q[k] as unknown[]).length} times; give it once`, in: 'query' as const })),
              );
          }
          return payload;
        },
        { [CHECKED]: true as const },
      );
      opts.preParsing = [check, ...hooks] as never;
    });
  },
  { name: 'route-rules' },
);
