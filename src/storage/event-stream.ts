import type { RedisClient } from '../queue/connection.js';

/** Event types written to a job's stream; all but the first two are terminal. */
export type JobEventType = 'status' | 'progress' | 'completed' | 'failed' | 'cancelled' | 'pruned';
export const TERMINAL_EVENTS: readonly string[] = ['completed', 'failed', 'cancelled', 'pruned'];

/** One stored event: integer id, type and the JSON text of its data. */
export interface StoredEvent {
  id: number;
  type: string;
  data: string;
}

/** One raw entry as XRANGE/XREAD return it. */
export type StreamEntry = [id: string, fields: string[]];
type Entry = StreamEntry;

/** Parses a raw stream entry (id `N-0`) into a {@link StoredEvent}. */
export function toStoredEvent([id, fields]: Entry): StoredEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  return { id: Number(id.split('-')[0]), type: f.type ?? 'message', data: f.data ?? '{}' };
}

/**
 * Event 1 of every job, `status` `queued`. It is implied by the job record (whose `eventSeq`
 * starts at 1) rather than stored: creating a stream per job at submit cost the Redis server
 * ~8 µs of its ~60 per `POST /v1/jobs` under bench:submit's load, for a constant. A job's stream
 * holds its events from id 2 on (jobs created before this version also hold this one as id 1);
 * readers of a job's events start with it ({@link readJobEventsAfter}, the SSE route).
 */
export const FIRST_JOB_EVENT: Readonly<StoredEvent> = Object.freeze({ id: 1, type: 'status', data: JSON.stringify({ status: 'queued' }) });

/** A job's events with an id greater than `after`, in order: {@link FIRST_JOB_EVENT}, then its stream (up to `count` from it). */
export async function readJobEventsAfter(redis: RedisClient, stream: string, after: number, count = 1000): Promise<StoredEvent[]> {
  const stored = await readEventsAfter(redis, stream, Math.max(after, FIRST_JOB_EVENT.id), count);
  return after < FIRST_JOB_EVENT.id ? [{ ...FIRST_JOB_EVENT }, ...stored] : stored;
}

/** Every event with an id greater than `after`, in order (up to `count`). */
export async function readEventsAfter(redis: RedisClient, stream: string, after: number, count = 1000): Promise<StoredEvent[]> {
  const entries = (await redis.xrange(stream, `(${after}-0`, '+', 'COUNT', count)) as Entry[];
  return entries.map(toStoredEvent);
}

/**
 * Waits up to `blockMs` for events after `after` and returns them (empty on timeout). Blocks the
 * connection: give each reader its own.
 */
export async function waitEventsAfter(redis: RedisClient, stream: string, after: number, blockMs: number): Promise<StoredEvent[]> {
  const res = (await redis.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', stream, `${after}-0`)) as
    | [string, Entry[]][]
    | null;
  return res ? res[0][1].map(toStoredEvent) : [];
}
