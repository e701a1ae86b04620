import type { RedisClient } from '../queue/connection.js';
import type { Keys } from './keys.js';

/**
 * FLOP/s assumed before any worker measured itself: deliberately low (a small network on one
 * busy core trains faster), so a first estimate errs long.
 */
export const DEFAULT_FLOPS_PER_SECOND = 5e7;
/** A measurement or heartbeat older than this is ignored (the worker is gone or the machine changed). */
const STALE_MS = 24 * 3600 * 1000;
/** Weight of the newest job in a trainer's running average. */
const NEW_WEIGHT = 0.5;

interface Measured {
  flopsPerSecond: number;
  jobs: number;
  updatedAt: number;
}

/** Throughput the trainers publish (one entry per trainer process) and the slots the workers run. */
export class ThroughputStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /**
   * Records that trainer `trainerId` ran `flops` FLOP in `seconds` on a model of `params`
   * parameters: kept per size class (a power of two of the parameter count), since small
   * networks reach far fewer FLOP/s than large ones on this core (per-step overheads dominate),
   * as a running average over that class's jobs, the newest weighing half.
   */
  async record(trainerId: string, params: number, flops: number, seconds: number, overheadSeconds?: number): Promise<void> {
    if (overheadSeconds !== undefined && overheadSeconds >= 0) {
      // A job's fixed cost besides its epochs (kernel set-up, data preparation): it follows a lower
      // figure at once and a higher one by halves, since a fresh trainer's first job also compiles its kernels.
      const f = `${trainerId}|overhead`;
      const o = await this.redis.hget(this.keys.workerThroughput(), f);
      const prev = o ? (JSON.parse(o) as { seconds: number }).seconds : overheadSeconds;
      await this.redis.hset(this.keys.workerThroughput(), f, JSON.stringify({ seconds: Math.min(overheadSeconds, (1 - NEW_WEIGHT) * prev + NEW_WEIGHT * overheadSeconds), updatedAt: Date.now() }));
    }
    if (!(flops > 0 && seconds > 0 && params > 0)) return;
    const rate = flops / seconds;
    const field = `${trainerId}|${sizeClass(params)}`;
    const prev = await this.redis.hget(this.keys.workerThroughput(), field);
    const p = prev ? (JSON.parse(prev) as Measured) : null;
    const m: Measured = { flopsPerSecond: p ? (1 - NEW_WEIGHT) * p.flopsPerSecond + NEW_WEIGHT * rate : rate, jobs: (p?.jobs ?? 0) + 1, updatedAt: Date.now() };
    await this.redis.hset(this.keys.workerThroughput(), field, JSON.stringify(m));
  }

  /** A worker's heartbeat: it runs `concurrency` trainers. */
  async heartbeat(workerId: string, concurrency: number): Promise<void> {
    await this.redis.hset(this.keys.workerSlots(), workerId, JSON.stringify({ concurrency, seenAt: Date.now() }));
  }

  async leave(workerId: string): Promise<void> {
    await this.redis.hdel(this.keys.workerSlots(), workerId);
  }

  /** Every recent measurement: size class → mean FLOP/s over trainers, and how many trainers measured. */
  async measurements(): Promise<Measurements> {
    const now = Date.now();
    const byClass = new Map<number, number[]>();
    const trainers = new Set<string>();
    const overheads: number[] = [];
    for (const [field, s] of Object.entries(await this.redis.hgetall(this.keys.workerThroughput()))) {
      const [trainer, cls] = field.split('|');
      if (cls === 'overhead') {
        const o = JSON.parse(s) as { seconds: number; updatedAt: number };
        if (now - o.updatedAt < STALE_MS) overheads.push(o.seconds);
        continue;
      }
      const m = JSON.parse(s) as Measured;
      if (cls === undefined || now - m.updatedAt >= STALE_MS || !(m.flopsPerSecond > 0)) continue;
      trainers.add(trainer);
      byClass.set(Number(cls), [...(byClass.get(Number(cls)) ?? []), m.flopsPerSecond]);
    }
    return {
      rates: new Map([...byClass].map(([c, r]) => [c, r.reduce((a, b) => a + b, 0) / r.length])),
      overheadSeconds: overheads.length ? overheads.reduce((a, b) => a + b, 0) / overheads.length : 0,
      trainers: trainers.size,
    };
  }

  /** Training slots of the workers seen in the last minute (at least 1). */
  async slots(): Promise<number> {
    const now = Date.now();
    const n = Object.values(await this.redis.hgetall(this.keys.workerSlots()))
      .map((s) => JSON.parse(s) as { concurrency: number; seenAt: number })
      .filter((w) => now - w.seenAt < 60_000)
      .reduce((a, w) => a + w.concurrency, 0);
    return Math.max(1, n);
  }
}

/** Size class of a model: log2 of its parameter count, rounded. */
export const sizeClass = (params: number) => Math.round(Math.log2(Math.max(1, params)));

/** Mean FLOP/s per size class, from {@link ThroughputStore.measurements}. */
export interface Measurements {
  rates: Map<number, number>;
  /** Mean fixed seconds per job besides its epochs. */
  overheadSeconds: number;
  trainers: number;
}

/** The throughput to expect for a model of `params` parameters. */
export interface RateEstimate {
  flopsPerSecond: number;
  /** `measured` (its size class), `interpolated` (between two measured classes, log-log), `nearest` (the closest measured class), `default` (nothing measured). */
  source: 'measured' | 'interpolated' | 'nearest' | 'default';
  trainers: number;
}

/** The expected FLOP/s for `params` parameters from the measurements. */
export function rateFor(m: Measurements, params: number): RateEstimate {
  const c = sizeClass(params);
  const classes = [...m.rates.keys()].sort((a, b) => a - b);
  if (classes.length === 0) return { flopsPerSecond: DEFAULT_FLOPS_PER_SECOND, source: 'default', trainers: 0 };
  const exact = m.rates.get(c);
  if (exact !== undefined) return { flopsPerSecond: exact, source: 'measured', trainers: m.trainers };
  const lo = classes.filter((x) => x < c).at(-1);
  const hi = classes.find((x) => x > c);
  if (lo !== undefined && hi !== undefined) {
    const t = (c - lo) / (hi - lo);
    const r = Math.exp((1 - t) * Math.log(m.rates.get(lo)!) + t * Math.log(m.rates.get(hi)!));
    return { flopsPerSecond: r, source: 'interpolated', trainers: m.trainers };
  }
  return { flopsPerSecond: m.rates.get((lo ?? hi)!)!, source: 'nearest', trainers: m.trainers };
}
