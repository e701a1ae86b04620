import type { Redis } from 'ioredis';
import { readEventsAfter, toStoredEvent, type StoredEvent, type StreamEntry } from '../storage/event-stream.js';

/** Options of {@link EventHub}. */
export interface EventHubOptions {
  /** How long one XREAD blocks before it is re-issued (ms). Default 5000. */
  blockMs?: number;
  /** Most entries one XREAD returns per stream. Default 1000. */
  count?: number;
  /** Pause after a failed XREAD before the next one (ms). Default 200. */
  retryMs?: number;
  /** Name of the hub's connection in `CLIENT LIST`. Default `tsnn-sse-hub`. */
  connectionName?: string;
}

/** One follower of a job's stream, from {@link EventHub.follow}. */
export interface Follower {
  /** Resolves once history after the start cursor was delivered and the follower is live. */
  readonly ready: Promise<void>;
  /** Id of the last event delivered to this follower. */
  readonly cursor: number;
  /** Delivers whatever the stream holds after the cursor now (XRANGE), deduplicated like live events. */
  sync(): Promise<void>;
  /** Holds delivery (the cursor stays at the last event delivered), e.g. while a client's socket is full. */
  pause(): void;
  /** Delivers what was held back (XRANGE from the cursor), then live events again; no gap, no duplicate. */
  resume(): Promise<void>;
  /** True between {@link Follower.pause} and {@link Follower.resume}. */
  readonly paused: boolean;
  /** Stops delivery; idempotent. */
  close(): void;
}

/** Raised by the hub's loop when used after {@link EventHub.close}. */
export class EventHubClosedError extends Error {
  override name = 'EventHubClosedError';
}

interface Sub {
  cursor: number;
  /** Hub deliveries held back while the follower catches up to the hub's position; null when live. */
  buffer: StoredEvent[] | null;
  closed: boolean;
  paused: boolean;
  emit: (e: StoredEvent) => void;
}

interface Tracked {
  /** Last id the hub has read from this stream. */
  lastId: number;
  subs: Set<Sub>;
}

/**
 * Fans Redis job event streams out to any number of SSE clients of this process with one
 * blocking connection: one `XREAD BLOCK` loop multiplexes every followed stream from the last id
 * it read; when a new stream is followed the blocked read is interrupted (`CLIENT UNBLOCK`) and
 * re-issued with it. Each follower replays history with XRANGE on the shared command connection
 * and joins the live feed without gap or duplicate (every delivery passes one id > cursor filter).
 * Delivery is synchronous: a follower that cannot keep up pauses itself (and resumes from its
 * cursor later), never stalls the loop.
 */
export class EventHub {
  private readonly streams = new Map<string, Tracked>();
  private readonly reader: Redis;
  private readonly blockMs: number;
  private readonly count: number;
  private readonly retryMs: number;
  private clientId: number | null = null;
  /** Increments for each XREAD issued, so an unblock retry targets the read it was meant for. */
  private generation = 0;
  private blocking = false;
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly loop: Promise<void>;

  /**
   * @param redis command connection (XRANGE replays, CLIENT UNBLOCK); not blocked by the hub.
   * The hub opens one more connection of its own (a duplicate of `redis`) for the blocking loop.
   */
  constructor(
    private readonly redis: Redis,
    opts: EventHubOptions = {},
  ) {
    this.blockMs = opts.blockMs ?? 5000;
    this.count = opts.count ?? 1000;
    this.retryMs = opts.retryMs ?? 200;
    this.reader = redis.duplicate({ connectionName: opts.connectionName ?? 'tsnn-sse-hub', maxRetriesPerRequest: null });
    this.reader.on('error', () => {});
    this.reader.on('close', () => (this.clientId = null));
    this.loop = this.run();
  }

  /** Streams followed now (for metrics and tests). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Followers now, over all streams. */
  get followerCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.subs.size;
    return n;
  }

  /** Redis connections the hub holds open itself (always one, whatever the number of followers). */
  readonly connectionCount = 1;

  /**
   * Delivers every event of `stream` with an id greater than `after` to `onEvent`, in order and
   * once each: first the history (XRANGE), then live events as the hub reads them.
   * `onEvent` runs synchronously inside the hub loop; it may call `close()`.
   */
  follow(stream: string, after: number, onEvent: (e: StoredEvent) => void): Follower {
    if (this.closed) throw new EventHubClosedError('event hub is closed');
    const sub: Sub = {
      cursor: after,
      buffer: [],
      closed: false,
      paused: false,
      emit: (e) => {
        if (sub.closed || sub.paused || e.id <= sub.cursor) return;
        sub.cursor = e.id;
        onEvent(e);
      },
    };
    const replay = async (upTo?: number) => {
      for (;;) {
        if (sub.closed || sub.paused) return;
        const events = await readEventsAfter(this.redis, stream, sub.cursor, this.count);
        for (const e of events) {
          if (upTo !== undefined && e.id > upTo) return;
          sub.emit(e);
        }
        if (events.length < this.count) return;
      }
    };
    const close = () => {
      if (sub.closed) return;
      sub.closed = true;
      const t = this.streams.get(stream);
      if (t) {
        t.subs.delete(sub);
        // The read in flight may still name it; its result for this stream is ignored.
        if (t.subs.size === 0) this.streams.delete(stream);
      }
    };
    /** Ends buffering: emits what the hub delivered meanwhile (what a pause skips is read again on resume). */
    const flush = () => {
      const held = sub.buffer ?? [];
      sub.buffer = null;
      for (const e of held) sub.emit(e);
    };
    const ready = (async () => {
      await replay();
      if (sub.closed) return;
      // Join synchronously after the replay: the hub position is either behind us (its deliveries
      // are filtered by the cursor) or ahead (we read the difference while buffering its deliveries).
      let t = this.streams.get(stream);
      if (!t) {
        t = { lastId: sub.cursor, subs: new Set() };
        this.streams.set(stream, t);
        this.changed();
      }
      t.subs.add(sub);
      const position = t.lastId;
      if (position > sub.cursor) await replay(position);
      flush();
    })();
    ready.catch(() => {});
    return {
      ready,
      get cursor() {
        return sub.cursor;
      },
      get paused() {
        return sub.paused;
      },
      sync: () => replay(),
      pause: () => {
        sub.paused = true;
      },
      resume: async () => {
        if (!sub.paused || sub.closed) return;
        // Buffer hub deliveries while reading what was held back, exactly as when joining.
        sub.paused = false;
        sub.buffer = [];
        await replay();
        flush();
      },
      close,
    };
  }

  /** Stops the loop and closes the hub's connection; followers get nothing more. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.streams.values()) for (const s of t.subs) s.closed = true;
    this.streams.clear();
    this.wake?.();
    this.reader.disconnect();
    await this.loop;
  }

  /** The followed set changed: wake an idle loop, or interrupt the read in flight. */
  private changed(): void {
    if (this.wake) {
      this.wake();
      return;
    }
    if (!this.blocking) return; // the next read is issued with the new set
    this.unblock(this.generation, 0);
  }

  /** Interrupts read `gen`; retries briefly when it has not reached Redis yet (UNBLOCK answers 0). */
  private unblock(gen: number, tries: number): void {
    if (this.clientId === null || gen !== this.generation || !this.blocking || this.closed) return;
    this.redis
      .client('UNBLOCK', this.clientId)
      .then((n) => {
        if (Number(n) === 0 && tries < 50) setTimeout(() => this.unblock(gen, tries + 1), 1);
      })
      .catch(() => {});
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      if (this.streams.size === 0) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      try {
        if (this.clientId === null) this.clientId = Number(await this.reader.client('ID'));
        const keys = [...this.streams.keys()];
        // Identity of each tracked stream at issue: one dropped and followed anew meanwhile restarts elsewhere.
        const issued = new Map(keys.map((k) => [k, this.streams.get(k)!]));
        const ids = keys.map((k) => `${issued.get(k)!.lastId}-0`);
        this.generation++;
        this.blocking = true;
        let res: [string, StreamEntry[]][] | null;
        try {
          res = (await this.reader.xread('COUNT', this.count, 'BLOCK', this.blockMs, 'STREAMS', ...keys, ...ids)) as [string, StreamEntry[]][] | null;
        } finally {
          this.blocking = false;
        }
        if (res) for (const [key, entries] of res) this.deliver(key, issued.get(key), entries);
      } catch {
        if (this.closed) break;
        await new Promise((r) => setTimeout(r, this.retryMs));
      }
    }
  }

  private deliver(key: string, issued: Tracked | undefined, entries: StreamEntry[]): void {
    const t = this.streams.get(key);
    // Entries continue the position the read was issued from, so only that same record may take them.
    if (!t || t !== issued) return;
    const events: StoredEvent[] = [];
    for (const entry of entries) {
      const e = toStoredEvent(entry);
      if (e.id > t.lastId) events.push(e);
    }
    if (events.length === 0) return;
    t.lastId = events[events.length - 1].id;
    for (const sub of [...t.subs]) {
      if (sub.paused) continue;
      if (sub.buffer) sub.buffer.push(...events);
      else for (const e of events) sub.emit(e);
    }
  }
}
