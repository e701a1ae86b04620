// Follows a job's SSE stream until its terminal event, reconnecting with the last event id.
// Without an API key it uses EventSource (resume via ?lastEventId=, since the browser only
// sends Last-Event-ID on its own automatic retries); with a key it reads the stream with
// fetch so the Authorization header can be sent (EventSource cannot send headers).
import { getApiKey } from './api.js';

const TERMINAL = ['completed', 'failed', 'cancelled', 'pruned'];
const NAMED = ['status', 'progress', ...TERMINAL];

/**
 * @param {string} url  e.g. /v1/jobs/ID/events
 * @param {{ onEvent(name: string, data: any, id?: string): void, onState?(s: string): void }} handlers
 * @returns {{ close(): void }}
 */
export function followEvents(url, { onEvent, onState = () => {} }) {
  let lastId;
  let closed = false;
  let retries = 0;
  let timer;
  let current; // EventSource or AbortController
  const seen = new Set();

  const deliver = (name, raw, id) => {
    if (id !== undefined && id !== '') {
      if (seen.has(id)) return; // a replay after reconnect must not draw a point twice
      seen.add(id);
      lastId = id;
    }
    retries = 0;
    let data = raw;
    try { data = JSON.parse(raw); } catch { /* keep text */ }
    onEvent(name, data, id);
    if (TERMINAL.includes(name)) stop('ended');
  };

  const stop = (state) => {
    closed = true;
    clearTimeout(timer);
    if (current instanceof EventSource) current.close();
    else current?.abort();
    onState(state);
  };

  const retry = () => {
    if (closed) return;
    // 20 failures in a row without an event: give up (retries reset on every event)
    if (retries >= 20) { stop('lost: reload the page to retry'); return; }
    const delay = Math.min(250 * 2 ** retries++, 5000);
    onState(`reconnecting in ${Math.round(delay / 100) / 10} s`);
    timer = setTimeout(open, delay);
  };

  const withResume = () => {
    if (lastId === undefined) return url;
    return `${url}${url.includes('?') ? '&' : '?'}lastEventId=${encodeURIComponent(lastId)}`;
  };

  const openEventSource = () => {
    const es = new EventSource(withResume());
    current = es;
    es.onopen = () => onState('live');
    for (const name of NAMED) es.addEventListener(name, (e) => deliver(name, e.data, e.lastEventId));
    es.onmessage = (e) => deliver('message', e.data, e.lastEventId);
    es.onerror = () => {
      // the server closes after the terminal event; anything else: reopen ourselves with the last id
      es.close();
      if (!closed) retry();
    };
  };

  const openFetch = async () => {
    const ctl = new AbortController();
    current = ctl;
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${getApiKey()}` };
    if (lastId !== undefined) headers['last-event-id'] = lastId;
    try {
      const res = await fetch(url, { headers, signal: ctl.signal });
      if (!res.ok || !res.body) {
        onState(`stream error ${res.status}`);
        if (res.status >= 400 && res.status < 500 && res.status !== 429) { stop(`error ${res.status}`); return; }
        retry();
        return;
      }
      onState('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let ev = { data: [], event: '', id: undefined };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let m;
        while ((m = /\r\n|\r|\n/.exec(buf))) {
          const line = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          if (line === '') {
            if (ev.data.length) deliver(ev.event || 'message', ev.data.join('\n'), ev.id ?? lastId);
            if (closed) return;
            ev = { data: [], event: '', id: undefined };
            continue;
          }
          if (line.startsWith(':')) continue;
          const k = line.indexOf(':');
          const f = k < 0 ? line : line.slice(0, k);
          let v = k < 0 ? '' : line.slice(k + 1);
          if (v.startsWith(' ')) v = v.slice(1);
          if (f === 'data') ev.data.push(v);
          else if (f === 'event') ev.event = v;
          else if (f === 'id') ev.id = v;
        }
      }
      if (!closed) retry();
    } catch {
      if (!closed) retry();
    }
  };

  const open = () => {
    if (closed) return;
    onState('connecting');
    if (getApiKey()) openFetch();
    else openEventSource();
  };

  open();
  return { close: () => { if (!closed) stop('closed'); } };
}
