import http from 'node:http';
import { parseSse, type SseEvent } from './sse.js';

/** What {@link readSse} saw. */
export interface SseRead {
  status: number;
  contentType: string;
  events: SseEvent[];
  /** The server ended the response (as opposed to us hanging up after `stopAfter`). */
  closedByServer: boolean;
  raw: string;
}

/**
 * A raw-HTTP SSE client: no EventSource, so nothing is hidden (no auto-reconnect). Stops after
 * `stopAfter` events by destroying the socket.
 */
export function readSse(url: string, opts: { lastEventId?: string; stopAfter?: number; accept?: string; timeoutMs?: number } = {}): Promise<SseRead> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: opts.accept ?? 'text/event-stream' };
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
    const req = http.get(url, { headers }, (res) => {
      let raw = '';
      let done = false;
      const finish = (closedByServer: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Only complete events count: cut at the last blank line.
        const complete = raw.slice(0, raw.lastIndexOf('\n\n') + 2);
        resolve({ status: res.statusCode!, contentType: String(res.headers['content-type']), events: parseSse(complete), closedByServer, raw });
      };
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`SSE read timed out; got: ${raw.slice(-500)}`));
      }, opts.timeoutMs ?? 60_000);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        raw += c;
        if (opts.stopAfter !== undefined) {
          const complete = raw.slice(0, raw.lastIndexOf('\n\n') + 2);
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
}
