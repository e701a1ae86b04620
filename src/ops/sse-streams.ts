/**
 * Counts open SSE streams in this process. The ops plugin wraps responses of the events route
 * with {@link trackSseResponse}, so the route itself needs no change; a route that wants to
 * report directly can call {@link sseStreamOpened}/{@link sseStreamClosed} instead.
 */
import type { ServerResponse } from 'node:http';

let open = 0;

/** Open SSE streams right now in this process. */
export function openSseStreams(): number {
  return open;
}

export function sseStreamOpened(): void {
  open++;
}

export function sseStreamClosed(): void {
  open = Math.max(0, open - 1);
}

/**
 * Counts `res` as an open stream from the moment it sends a 2xx `text/event-stream` head
 * until the socket closes. Error responses (404, 401) never count.
 */
export function trackSseResponse(res: ServerResponse): void {
  const writeHead = res.writeHead;
  let counted = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const out = (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    const headers = args.find((a) => a && typeof a === 'object' && !Array.isArray(a)) as Record<string, unknown> | undefined;
    const ctype = String(headers?.['content-type'] ?? headers?.['Content-Type'] ?? this.getHeader('content-type') ?? '');
    if (!counted && this.statusCode >= 200 && this.statusCode < 300 && ctype.startsWith('text/event-stream')) {
      counted = true;
      sseStreamOpened();
      this.once('close', sseStreamClosed);
    }
    return out;
  } as ServerResponse['writeHead'];
}
