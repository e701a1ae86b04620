import http from 'node:http';
import { parseSse, type SseEvent } from './sse.js';
import { waitForState } from './wait.js';

/** What {@link readSse} saw. */
export interface SseRead {
  status: number;
  contentType: string;
  events: SseEvent[];
  /** The server ended the response (as opposed to us hanging up after `stopAfter`). */
  closedByServer: boolean;
  raw: string;
}

export interface SseReadOptions {
  lastEventId?: string;
  stopAfter?: number;
  accept?: string;
  timeoutMs?: number;
}

/** Only complete events count: the text up to the last blank line. */
const completePart = (raw: string) => raw.slice(0, raw.lastIndexOf('\n\n') + 2);

/**
 * An SSE stream being read by {@link openSse}: `done` resolves as {@link readSse} does; `events()`
 * are the complete events so far; `waitForEvents(n)` waits (with a deadline) until `n` arrived.
 */
export interface SseStream {
  done: Promise<SseRead>;
  events(): SseEvent[];
  waitForEvents(n: number, timeoutMs?: number): Promise<SseEvent[]>;
  /**
   * Waits until the first bytes of the body arrived: the server's `retry:` line, written once
   * the stream follows the job (events appended from then on reach this client live).
   */
  waitForOpen(timeoutMs?: number): Promise<void>;
}

/**
 * A raw-HTTP SSE client: no EventSource, so nothing is hidden (no auto-reconnect). Stops after
 * `stopAfter` events by destroying the socket.
 */
export function openSse(url: string, opts: SseReadOptions = {}): SseStream {
  let raw = '';
  let settled = false;
  const done = new Promise<SseRead>((resolve, reject) => {
    const headers: Record<string, string> = { accept: opts.accept ?? 'text/event-stream' };
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
    const req = http.get(url, { headers }, (res) => {
      const finish = (closedByServer: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), events: parseSse(completePart(raw)), closedByServer, raw });
      };
      const timer = setTimeout(() => {
        settled = true;
        req.destroy();
        reject(new Error(`SSE read of ${url} timed out after ${opts.timeoutMs ?? 60_000} ms; got: ${raw.slice(-500)}`));
      }, opts.timeoutMs ?? 60_000);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        raw += c;
        if (opts.stopAfter !== undefined) {
          const complete = completePart(raw);
          if (parseSse(complete).length >= opts.stopAfter) {
            raw = complete;
            req.destroy();
            finish(false);
          }
        }
      });
      res.on('end', () => finish(true));
      res.on('error', () => finish(false));
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
  });
  const events = () => parseSse(completePart(raw));
  return {
    done,
    events,
    waitForOpen: async (timeoutMs = 10_000) => void (await waitForState(`the SSE stream ${url} to open`, () => raw, (r) => r.length > 0, { timeoutMs, intervalMs: 10 })),
    waitForEvents: (n, timeoutMs = 10_000) => waitForState(`${n} SSE event(s) from ${url}`, events, (e) => e.length >= n, { timeoutMs, intervalMs: 10, context: () => `raw: ${raw.slice(-500)}` }),
  };
}

/** {@link openSse}, awaited to its end. */
export function readSse(url: string, opts: SseReadOptions = {}): Promise<SseRead> {
  return openSse(url, opts).done;
}
