import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isRedisUnavailable } from '../queue/connection.js';
import { BlobStoreUnavailableError } from '../storage/blobs/blob-store.js';
import type { Problem } from '../schemas/common.js';

export type FieldError = NonNullable<Problem['errors']>[number];

/** An error a client caused: an HTTP status, a short code and a message that says how to fix it. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

export const notFound = (what: string, id: string) => new HttpProblem(404, 'not_found', `${what} '${id}' does not exist`);

/** A 400 naming one field. */
export const invalidField = (path: string, message: string, where: FieldError['in'] = 'body') =>
  new HttpProblem(400, 'validation_failed', `${path}: ${message}`, [{ path, message, in: where }]);

/** A 400 naming every field in `errors` (e.g. the core's `validateSpec` problems), like a schema failure. */
export const invalidFields = (errors: readonly { path: string; message: string }[], where: FieldError['in'] = 'body') =>
  new HttpProblem(
    400,
    'validation_failed',
    errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; '),
    errors.map((e) => ({ path: e.path || '(root)', message: e.message, in: where })),
  );

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Sends an RFC 9457 problem document. */
export function sendProblem(reply: FastifyReply, req: FastifyRequest, status: number, p: Omit<Problem, 'status' | 'title' | 'type'> & { title?: string }) {
  const body: Problem = {
    type: p.code ? `urn:tsnn:problem:${p.code}` : 'about:blank',
    title: p.title ?? TITLES[status] ?? 'Error',
    status,
    ...(p.detail ? { detail: p.detail } : {}),
    instance: req.url,
    ...(p.code ? { code: p.code } : {}),
    ...(p.errors ? { errors: p.errors } : {}),
  };
  return reply.code(status).type('application/problem+json').serializer(JSON.stringify).send(body);
}

const dotted = (pointer: string) =>
  pointer
    .split('/')
    .filter((s) => s !== '')
    .join('.');

/** Fastify's validation contexts as OpenAPI names parameter locations (errors[].in). */
const LOCATION: Record<string, FieldError['in']> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** Most field errors one problem lists. */
const MAX_FIELD_ERRORS = 50;

/**
 * A `preParsing` hook answering 415 unless the media type is application/json (parameters such
 * as charset allowed). Before parsing, so text/csv or text/plain never reaches a JSON body schema.
 * (`done` rather than async: no promise per submit.)
 */
export function jsonBodyOnly(route: string) {
  return <P>(req: FastifyRequest, _reply: FastifyReply, payload: P, done: (err: Error | null, payload?: P) => void): void => {
    const header = req.headers['content-type'];
    const type = header === 'application/json' ? header : header?.split(';')[0].trim().toLowerCase();
    if (type === 'application/json') return done(null, payload);
    done(
      new HttpProblem(
        415,
        'unsupported_media_type',
        `${route} takes application/json only; ${type ? `got ${type}` : 'the request has no Content-Type'}: send the body as JSON with Content-Type: application/json`,
      ),
    );
  };
}

/** Installs the error and not-found handlers: every error leaves as problem+json. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof HttpProblem) {
      reply.headers(err.headers);
      return sendProblem(reply, req, err.status, { code: err.code, detail: err.message, errors: err.errors });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = LOCATION[err.validationContext ?? 'body'] ?? 'body';
      const all = err.validation.flatMap((v) => {
        const path = dotted(v.instancePath) || '(root)';
        const params = v.params as { keys?: string[] };
        // Strict objects report unknown keys on the parent; name each key itself (a message that
        // lists thousands of keys is not repeated per key: that grew as keys²).
        if (v.keyword === 'unrecognized_keys' && params.keys?.length)
          return params.keys.slice(0, MAX_FIELD_ERRORS + 1).map((k) => ({
            path: [dotted(v.instancePath), k].filter(Boolean).join('.'),
            message: v.message && v.message.length <= 300 ? v.message : 'unknown field',
            in: where,
          }));
        return [{ path, message: v.message ?? 'invalid', in: where }];
      });
      // A hostile body can raise thousands of issues: name the first ones and count the rest.
      const errors = all.slice(0, MAX_FIELD_ERRORS);
      const more = all.length > MAX_FIELD_ERRORS ? `; and more errors (the first ${MAX_FIELD_ERRORS} are listed)` : '';
      // the same path form as errors[].path (where it is, body or query, is in errors[].in)
      const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ') + more;
      return sendProblem(reply, req, 400, { code: 'validation_failed', detail, errors });
    }
    if ((err as unknown) instanceof BlobStoreUnavailableError) {
      const e = err as unknown as BlobStoreUnavailableError;
      req.log.warn({ err: e.message }, 'blob store unavailable');
      reply.header('retry-after', String(e.retryAfterSeconds));
      return sendProblem(reply, req, 503, { code: e.code, detail: 'the blob store (dataset storage) is unreachable; nothing was stored or changed; retry later' });
    }
    if (isRedisUnavailable(err)) {
      reply.header('retry-after', '2');
      return sendProblem(reply, req, 503, { code: 'redis_unavailable', detail: 'Redis is unreachable; retry later' });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return sendProblem(reply, req, status, { code: 'internal', detail: 'internal error; the request id is in the logs' });
    }
    // Fastify's own client errors (bad JSON, body too large, unsupported media type...).
    return sendProblem(reply, req, status, { code: (err.code ?? 'bad_request').toLowerCase(), detail: err.message });
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, req, 404, { code: 'not_found', detail: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );
}

/**
 * Node's HTTP parser rejects bytes that are not HTTP (a body without a length, bad header
 * characters, oversized headers) before Fastify sees a request: answer those as problem+json too.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: import('node:net').Socket): void {
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code = (err.code ?? 'bad_request').toLowerCase();
  const body = JSON.stringify({ type: `urn:tsnn:problem:${code}`, title: TITLES[status], status, detail: 'the request is not valid HTTP/1.1 (send a Content-Length or chunked body, ASCII headers)', code });
  // as Node and Fastify do: answer if possible, then drop the connection (its byte stream is out of sync)
  if (socket.writable)
    socket.write(`HTTP/1.1 ${status} ${TITLES[status]}\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy(err);
}
