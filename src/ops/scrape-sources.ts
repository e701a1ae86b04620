/** Reads the queue and the running jobs' event streams for the gauges, at scrape time. */
import type { Queue } from 'bullmq';
import type { RedisClient } from '../queue/connection.js';
import { QUEUE_STATES, type ScrapeSources } from './ops-metrics.js';

export interface ScrapeSourceDeps {
  queue: Queue;
  redis: RedisClient;
  /** Key of a job's event stream (the service's `keys.jobEvents`). */
  jobEventsKey(id: string): string;
  /** Running jobs read at most. Default 200. */
  maxRunning?: number;
}

/** The latest `samplesPerSecond` among the last few events of a stream, if any. */
export function latestSamplesPerSecond(entries: [string, string[]][]): number | undefined {
  for (const [, fields] of entries) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    if (f.type !== 'progress' || !f.data) continue;
    try {
      const sps = (JSON.parse(f.data) as { samplesPerSecond?: unknown }).samplesPerSecond;
      if (typeof sps === 'number' && Number.isFinite(sps)) return sps;
    } catch {
      // skip a malformed event
    }
  }
  return undefined;
}

export function scrapeSources(deps: ScrapeSourceDeps): ScrapeSources {
  const running = async () => {
    const active = await deps.queue.getJobs(['active'], 0, (deps.maxRunning ?? 200) - 1);
    const ids = active.map((j) => j?.id).filter((id): id is string => typeof id === 'string');
    if (!ids.length) return { jobs: 0, samplesPerSecond: 0 };
    // One command per stream, not a pipeline: on a cluster the streams live in different slots.
    const res = await Promise.all(ids.map((id) => deps.redis.xrevrange(deps.jobEventsKey(id), '+', '-', 'COUNT', 20).catch(() => null)));
    let sum = 0;
    for (const entries of res) if (entries) sum += latestSamplesPerSecond(entries as [string, string[]][]) ?? 0;
    return { jobs: ids.length, samplesPerSecond: sum };
  };
  return {
    async queueCounts() {
      return deps.queue.getJobCounts(...QUEUE_STATES);
    },
    runningSamplesPerSecond: running,
  };
}
