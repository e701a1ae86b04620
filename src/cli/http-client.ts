/**
 * A small client for the trainer HTTP API (v1). Uses the global `fetch` of Node 20.
 * Errors carry the RFC 9457 problem document the API returns.
 */

/** One `errors[]` entry of a validation problem. */
export interface ProblemFieldError {
  path: string;
  message: string;
}

/** The `application/problem+json` body the API sends on errors. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: ProblemFieldError[];
  [k: string]: unknown;
}

/** An HTTP response with a status ≥ 400; `problem` is the parsed body when it was JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    readonly body: string,
    readonly method: string,
    readonly url: string,
  ) {
    super(formatProblem(status, problem, body));
    this.name = 'HttpError';
  }
}

/** The server could not be reached at all (refused, DNS, reset before a response). */
export class ConnectionError extends Error {
  constructor(readonly url: string, cause: unknown) {
    super(`cannot reach ${url}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'ConnectionError';
  }
}

/** One line per problem: `400 Bad Request: detail` then `  path: message` per field error. */
export function formatProblem(status: number, problem: Problem | undefined, body: string): string {
  if (!problem) return `HTTP ${status}${body ? `: ${body.slice(0, 500)}` : ''}`;
  const head = `HTTP ${status}${problem.title ? ` ${problem.title}` : ''}${problem.detail ? `: ${problem.detail}` : ''}`;
  const fields = (problem.errors ?? []).map((e) => `\n  ${e.path || '(body)'}: ${e.message}`).join('');
  return head + fields;
}

export interface ApiClientOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Sent as `Authorization: Bearer <key>` when set. */
  apiKey?: string;
}

export interface RequestOptions {
  /** JSON-serialised unless it is a string, Blob, FormData, Uint8Array or ReadableStream (streamed). */
  body?: unknown;
  headers?: Record<string, string>;
  /** `json` (default) parses the body, `text` returns it, `response` hands back the raw response. */
  as?: 'json' | 'text' | 'response';
  signal?: AbortSignal;
}

/** Thin wrapper over fetch that adds auth, JSON and problem+json handling. */
export class ApiClient {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.url.replace(/\/+$/, '');
    this.apiKey = opts.apiKey || undefined;
  }

  /** Headers every request carries (auth only). */
  authHeaders(): Record<string, string> {
    return this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {};
  }

  url(path: string): string {
    return this.baseUrl + path;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders(), ...opts.headers };
    let body: RequestInit['body'];
    const b = opts.body;
    if (b === undefined) body = undefined;
    else if (typeof b === 'string' || b instanceof Blob || b instanceof FormData || b instanceof Uint8Array || b instanceof ReadableStream) body = b as RequestInit['body'];
    else {
      body = JSON.stringify(b);
      headers['content-type'] ??= 'application/json';
    }
    const url = this.url(path);
    let res: Response;
    try {
      // a stream body is sent as it is read (Node's fetch needs duplex 'half' for it)
      res = await fetch(url, { method, headers, body, signal: opts.signal, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      throw new ConnectionError(url, (err as { cause?: unknown }).cause ?? err);
    }
    if (opts.as === 'response' && res.ok) return res as unknown as T;
    const text = await res.text();
    if (!res.ok) {
      let problem: Problem | undefined;
      try {
        problem = JSON.parse(text) as Problem;
      } catch {
        problem = undefined;
      }
      throw new HttpError(res.status, problem, text, method, url);
    }
    if (opts.as === 'text') return text as unknown as T;
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T = unknown>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts);
  }

  post<T = unknown>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }
}
