/**
 * A Server-Sent Events reader over `fetch` streaming, with resume: when the connection
 * drops before a terminal event it reconnects with `Last-Event-ID`, so nothing is missed
 * and nothing repeated (the server guarantees that per the v1 contract).
 */
import type { ApiClient } from './http-client.js';
import { HttpError } from './http-client.js';

/** One dispatched SSE event. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface StreamOptions {
  /** Resume after this event id. */
  lastEventId?: string;
  /** Event names after which the stream is over (the server then closes it). Default: completed, failed, cancelled. */
  terminal?: readonly string[];
  /** Reconnect attempts in a row without receiving any event before giving up. Default 10. */
  maxRetries?: number;
  /** First back-off delay; doubles up to 5 s. Default 250 ms (or the server's `retry:`). */
  retryMs?: number;
  /** Called when a reconnect is scheduled (for a human hint on stderr). */
  onReconnect?: (attempt: number, lastEventId: string | undefined, err: unknown) => void;
  signal?: AbortSignal;
}

/** Thrown when the stream cannot be (re)opened after `maxRetries` attempts. */
export class StreamLostError extends Error {
  constructor(readonly lastEventId: string | undefined, cause: unknown) {
    super(`event stream lost after retries (last event id ${lastEventId ?? 'none'}): ${(cause as Error)?.message ?? cause}`);
    this.name = 'StreamLostError';
  }
}

/** Incremental parser: feed text chunks, get whole events (WHATWG SSE parsing rules). */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  /** Last `id:` seen, kept across events as the spec says. */
  lastEventId: string | undefined;
  /** Last `retry:` value in ms. */
  retry: number | undefined;

  feed(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      // a lone trailing \r may be the first half of \r\n: wait for more
      if (!m || (m[0] === '\r' && m.index === this.buf.length - 1)) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.id !== undefined) this.lastEventId = this.id;
      const ev = this.data.length ? { id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') } : undefined;
      this.data = [];
      this.event = '';
      this.id = undefined;
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const k = line.indexOf(':');
    const field = k < 0 ? line : line.slice(0, k);
    let value = k < 0 ? '' : line.slice(k + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return undefined;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Yields the events of `path` until a terminal event, reconnecting with `Last-Event-ID`
 * when the connection ends early or the server answers 429/5xx. Other HTTP errors (401, 404...)
 * are thrown at once.
 */
export async function* streamEvents(client: ApiClient, path: string, opts: StreamOptions = {}): AsyncGenerator<SseEvent> {
  const terminal = opts.terminal ?? ['completed', 'failed', 'cancelled', 'pruned'];
  const maxRetries = opts.maxRetries ?? 10;
  let lastEventId = opts.lastEventId;
  let failures = 0;
  let delay = opts.retryMs ?? 250;
  for (;;) {
    const parser = new SseParser();
    let err: unknown;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const res = await client.request<Response>('GET', path, { headers, as: 'response', signal: opts.signal });
      const ctype = res.headers.get('content-type') ?? '';
      if (!ctype.startsWith('text/event-stream')) {
        throw new HttpError(res.status, { title: 'Not an event stream', detail: `content-type ${ctype}` }, '', 'GET', client.url(path));
      }
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of parser.feed(value)) {
          failures = 0;
          delay = parser.retry ?? opts.retryMs ?? 250;
          lastEventId = ev.id ?? lastEventId;
          yield ev;
          if (terminal.includes(ev.event)) {
            await reader.cancel().catch(() => undefined);
            return;
          }
        }
      }
      err = new Error('server closed the stream before a terminal event');
    } catch (e) {
      // client errors (401, 404, not a stream) are final; 429 and 5xx (e.g. 503 while Redis is down) are retried
      if ((e instanceof HttpError && e.status < 500 && e.status !== 429) || opts.signal?.aborted) throw e;
      err = e;
    }
    if (++failures > maxRetries) throw new StreamLostError(lastEventId, err);
    opts.onReconnect?.(failures, lastEventId, err);
    await sleep(delay, opts.signal);
    if (opts.signal?.aborted) return;
    delay = Math.min(delay * 2, 5000);
  }
}
