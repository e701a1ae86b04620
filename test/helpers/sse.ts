/** One parsed SSE event. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** The blank-line separated blocks of a `text/event-stream` body, as written (events, comments, `retry:`). */
export const sseBlocks = (text: string): string[] => text.split(/\r?\n\r?\n/);

/** Parses a complete `text/event-stream` body (comments and `retry:` lines are skipped). */
export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of sseBlocks(text)) {
    const e: Partial<SseEvent> = {};
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const f = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (f === 'id') e.id = v;
      else if (f === 'event') e.event = v;
      else if (f === 'data') e.data = e.data === undefined ? v : `${e.data}\n${v}`;
    }
    if (e.data !== undefined) out.push(e as SseEvent);
  }
  return out;
}
