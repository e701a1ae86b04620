import { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../queue/connection.js';
import { slotOf } from '../storage/keys.js';
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

/** One blocking `XREAD` loop over a set of streams that may be read together (one slot on a cluster). */
interface ReadGroup {
  key: string;
  streams: Set<string>;
  reader: Redis | null;
  /** Command connection on the reader's node, for CLIENT UNBLOCK. */
  control: RedisClient | null;
  clientId: number | null;
  /** Increments for each XREAD issued, so an unblock retry targets the read it was meant for. */
  generation: number;
  blocking: boolean;
  wake: (() => void) | null;
  closed: boolean;
  loop: Promise<void>;
}

/**
 * Fans Redis job event streams out to any number of SSE clients of this process. On one Redis,
 * one blocking connection: one `XREAD BLOCK` loop multiplexes every followed stream from the last
 * id it read; when a new stream is followed the blocked read is interrupted (`CLIENT UNBLOCK`) and
 * re-issued with it. On a Redis Cluster an XREAD may only name keys of one slot, so streams are
 * grouped by slot (each job's keys share one), one such loop per group, on a connection to the
 * master that owns the slot; a group's loop and connection end when its last stream is dropped.
 * Each follower replays history with XRANGE on the shared command connection and joins the live
 * feed without gap or duplicate (every delivery passes one id > cursor filter).
 * Delivery is synchronous: a follower that cannot keep up pauses itself (and resumes from its
 * cursor later), never stalls the loop.
 */
export class EventHub {
  private readonly streams = new Map<string, Tracked>();
  private readonly groups = new Map<string, ReadGroup>();
  private readonly blockMs: number;
  private readonly count: number;
  private readonly retryMs: number;
  private readonly connectionName: string;
  private closed = false;

  /**
   * @param redis command connection (XRANGE replays, CLIENT UNBLOCK); not blocked by the hub.
   * The hub opens its blocking connections itself: one on a single Redis, one per followed slot on a cluster.
   */
  constructor(
    private readonly redis: RedisClient,
    opts: EventHubOptions = {},
  ) {
    this.blockMs = opts.blockMs ?? 5000;
    this.count = opts.count ?? 1000;
    this.retryMs = opts.retryMs ?? 200;
    this.connectionName = opts.connectionName ?? 'tsnn-sse-hub';
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

  /** Blocking read loops now (one on a single Redis while anything is followed; one per followed slot on a cluster). */
  get connectionCount(): number {
    return this.groups.size;
  }

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
        if (t.subs.size === 0) {
          this.streams.delete(stream);
          this.dropFromGroup(stream);
        }
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
        this.addToGroup(stream);
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

  /** Stops the loops and closes the hub's connections; followers get nothing more. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.streams.values()) for (const s of t.subs) s.closed = true;
    this.streams.clear();
    const loops = [...this.groups.values()].map((g) => this.stopGroup(g));
    this.groups.clear();
    await Promise.all(loops);
  }

  /** Which loop reads `stream`: the only one on a single Redis, its slot's on a cluster. */
  private groupKey(stream: string): string {
    return isCluster(this.redis) ? String(slotOf(stream)) : 'all';
  }

  private addToGroup(stream: string): void {
    const key = this.groupKey(stream);
    let g = this.groups.get(key);
    if (!g) {
      g = { key, streams: new Set(), reader: null, control: null, clientId: null, generation: 0, blocking: false, wake: null, closed: false, loop: Promise.resolve() };
      this.groups.set(key, g);
      const group = g;
      g.loop = this.run(group);
    }
    g.streams.add(stream);
    this.changed(g);
  }

  private dropFromGroup(stream: string): void {
    const key = this.groupKey(stream);
    const g = this.groups.get(key);
    if (!g) return;
    g.streams.delete(stream);
    // A cluster group's connection goes with its last stream; the single Redis keeps its one.
    if (g.streams.size === 0 && key !== 'all') {
      this.groups.delete(key);
      void this.stopGroup(g);
    }
  }

  private async stopGroup(g: ReadGroup): Promise<void> {
    g.closed = true;
    g.wake?.();
    g.reader?.disconnect();
    await g.loop;
  }

  /** A group's set changed: wake an idle loop, or interrupt the read in flight. */
  private changed(g: ReadGroup): void {
    if (g.wake) {
      g.wake();
      return;
    }
    if (!g.blocking) return; // the next read is issued with the new set
    this.unblock(g, g.generation, 0);
  }

  /** Interrupts read `gen`; retries briefly when it has not reached Redis yet (UNBLOCK answers 0). */
  private unblock(g: ReadGroup, gen: number, tries: number): void {
    if (g.clientId === null || !g.control || gen !== g.generation || !g.blocking || g.closed) return;
    g.control
      .client('UNBLOCK', g.clientId)
      .then((n) => {
        if (Number(n) === 0 && tries < 50) setTimeout(() => this.unblock(g, gen, tries + 1), 1);
      })
      .catch(() => {});
  }

  /**
   * The group's blocking connection: a duplicate of the command connection on a single Redis; on
   * a cluster, a connection to the master owning the group's slot (found again after an error,
   * e.g. a failover or a moved slot) and that master's command connection for CLIENT UNBLOCK.
   */
  private async connect(g: ReadGroup): Promise<Redis> {
    if (g.reader) return g.reader;
    let reader: Redis;
    if (!isCluster(this.redis)) {
      reader = this.redis.duplicate({ connectionName: this.connectionName, maxRetriesPerRequest: null });
      g.control = this.redis;
    } else {
      const cluster = this.redis;
      if (cluster.status !== 'ready') throw new Error('cluster not ready');
      const nodeKey = cluster.slots[Number(g.key)]?.[0];
      const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === nodeKey);
      if (!nodeKey || !node) {
        void cluster.refreshSlotsCache?.();
        throw new Error(`no master known for slot ${g.key}`);
      }
      reader = new Redis({ ...cluster.options.redisOptions, host: node.options.host, port: node.options.port, connectionName: this.connectionName, maxRetriesPerRequest: null, retryStrategy: () => null });
      g.control = node;
    }
    reader.on('error', () => {});
    reader.on('close', () => (g.clientId = null));
    g.reader = reader;
    return reader;
  }

  private async run(g: ReadGroup): Promise<void> {
    while (!g.closed && !this.closed) {
      if (g.streams.size === 0) {
        await new Promise<void>((r) => (g.wake = r));
        g.wake = null;
        continue;
      }
      try {
        const reader = await this.connect(g);
        if (g.clientId === null) g.clientId = Number(await reader.client('ID'));
        const keys = [...g.streams].filter((k) => this.streams.has(k));
        // Identity of each tracked stream at issue: one dropped and followed anew meanwhile restarts elsewhere.
        const issued = new Map(keys.map((k) => [k, this.streams.get(k)!]));
        const ids = keys.map((k) => `${issued.get(k)!.lastId}-0`);
        g.generation++;
        g.blocking = true;
        let res: [string, StreamEntry[]][] | null;
        try {
          res = (await reader.xread('COUNT', this.count, 'BLOCK', this.blockMs, 'STREAMS', ...keys, ...ids)) as [string, StreamEntry[]][] | null;
        } finally {
          g.blocking = false;
        }
        if (res) for (const [key, entries] of res) this.deliver(key, issued.get(key), entries);
      } catch (err) {
        if (g.closed || this.closed) break;
        // On a cluster a failed read may mean the slot moved or its master failed over: reconnect.
        if (isCluster(this.redis) && g.reader && !/UNBLOCKED/.test((err as Error)?.message ?? '')) {
          g.reader.disconnect();
          g.reader = null;
          g.clientId = null;
        }
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
