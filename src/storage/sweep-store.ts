import type { RedisClient } from '../queue/connection.js';
import { RELIABILITY_DEFAULTS } from '../queue/reliability-config.js';
import type { RungDecision, SweepBest, SweepStatus, SweepSubmission, TrialStatus } from '../schemas/sweep.js';
import type { Keys } from './keys.js';
import { lexPage } from './lex-page.js';
import { sweepScripted } from './sweep-scripts.js';

/** A trial as stored: its parameters and job id, and its outcome once its job ended. */
export interface StoredTrial {
  index: number;
  jobId: string;
  params: Record<string, unknown>;
  /** Set once the trial ended (its job is terminal). */
  status?: TrialStatus;
  metric?: number | null;
  epochsRun?: number;
  prunedAtEpoch?: number;
}

/** A sweep's record without its trials. */
export interface SweepMeta {
  id: string;
  tenant: string;
  status: SweepStatus;
  datasetId: string;
  spec: Omit<SweepSubmission, 'datasetId'>;
  createdAt: string;
  finishedAt?: string;
  trialCount: number;
  best: SweepBest | null;
}

/** Sweep event types; the last two are terminal. */
export type SweepEventType = 'trial.started' | 'trial.completed' | 'trial.pruned' | 'trial.failed' | 'trial.cancelled' | 'sweep.best' | 'sweep.completed' | 'sweep.cancelled';
export const SWEEP_TERMINAL_EVENTS: readonly string[] = ['sweep.completed', 'sweep.cancelled'];

function toMeta(h: Record<string, string>): SweepMeta {
  return {
    id: h.id,
    tenant: h.tenant,
    status: h.status as SweepStatus,
    datasetId: h.datasetId,
    spec: JSON.parse(h.spec),
    createdAt: h.createdAt,
    ...(h.finishedAt ? { finishedAt: h.finishedAt } : {}),
    trialCount: Number(h.trialCount),
    best: h.best ? (JSON.parse(h.best) as SweepBest) : null,
  };
}

/**
 * Sweep records: a hash per sweep, its trials, pending and active trial sets, ASHA rungs and
 * decisions, and an event stream, all under the sweep's hash tag; an index per tenant.
 */
export class SweepStore {
  private readonly r;
  readonly retentionSeconds: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    opts: { retentionSeconds?: number } = {},
  ) {
    this.r = sweepScripted(redis);
    this.retentionSeconds = opts.retentionSeconds ?? RELIABILITY_DEFAULTS.JOB_RETENTION_SECONDS;
  }

  /** Creates a running sweep with its trials all pending (none has a job yet). */
  async create(tenant: string, id: string, submission: SweepSubmission, trials: { params: Record<string, unknown>; jobId: string }[]): Promise<SweepMeta> {
    const { datasetId, ...spec } = submission;
    const k = this.keys;
    const fields = {
      id,
      tenant,
      status: 'running',
      datasetId,
      spec: JSON.stringify(spec),
      createdAt: new Date().toISOString(),
      trialCount: String(trials.length),
      eventSeq: '0',
    };
    const m = this.redis.multi().hset(k.sweep(id), fields);
    m.hset(k.sweepTrials(id), Object.fromEntries(trials.map((t, index) => [String(index), JSON.stringify({ index, jobId: t.jobId, params: t.params })])));
    m.rpush(k.sweepPending(id), ...trials.map((_, i) => String(i)));
    const results = await m.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('sweep creation was not executed');
    // Tenant index and running set carry no hash tag (other slots on a cluster): written after the record.
    await this.redis.sadd(k.sweepsRunning(), id);
    await this.redis.zadd(k.sweepIndex(tenant), 0, id);
    return toMeta(fields);
  }

  /** The sweep when it exists and belongs to `tenant` (`undefined`: any tenant). */
  async meta(id: string, tenant?: string): Promise<SweepMeta | null> {
    const h = await this.redis.hgetall(this.keys.sweep(id));
    if (!h.id || (tenant !== undefined && h.tenant !== tenant)) return null;
    return toMeta(h);
  }

  /** Every trial, by index. */
  async trials(id: string): Promise<StoredTrial[]> {
    const h = await this.redis.hgetall(this.keys.sweepTrials(id));
    return Object.values(h)
      .map((s) => JSON.parse(s) as StoredTrial)
      .sort((a, b) => a.index - b.index);
  }

  async trial(id: string, index: number): Promise<StoredTrial | null> {
    const s = await this.redis.hget(this.keys.sweepTrials(id), String(index));
    return s ? (JSON.parse(s) as StoredTrial) : null;
  }

  /** Indexes of the trials whose job is queued or running (or being created). */
  async activeIndexes(id: string): Promise<number[]> {
    return (await this.redis.smembers(this.keys.sweepActive(id))).map(Number).sort((a, b) => a - b);
  }

  /** When (ms) trial `index` was claimed, or null. */
  async claimedAt(id: string, index: number): Promise<number | null> {
    const v = await this.redis.hget(this.keys.sweep(id), `claimed:${index}`);
    return v === null ? null : Number(v);
  }

  /** The next pending trial's index when fewer than `maxConcurrent` are active, else null. */
  async claim(id: string, maxConcurrent: number): Promise<number | null> {
    const k = this.keys;
    const idx = await this.r.tsnnSweepClaim(k.sweep(id), k.sweepPending(id), k.sweepActive(id), String(maxConcurrent), String(Date.now()));
    return idx === null ? null : Number(idx);
  }

  async unclaim(id: string, index: number): Promise<void> {
    const k = this.keys;
    await this.r.tsnnSweepUnclaim(k.sweep(id), k.sweepPending(id), k.sweepActive(id), String(index));
  }

  /**
   * Records the end of an active trial once (see END_TRIAL): `score` (lower is better) competes
   * for the sweep's best. Returns whether this call ended it, made it the best, completed the sweep.
   */
  async endTrial(id: string, trial: StoredTrial, event: { type: SweepEventType; data: unknown }, score: number | undefined, best: SweepBest | undefined): Promise<{ ended: boolean; best: boolean; completed: boolean }> {
    const k = this.keys;
    const [ended, better, done] = await this.r.tsnnSweepEndTrial(
      k.sweep(id),
      k.sweepActive(id),
      k.sweepTrials(id),
      k.sweepEvents(id),
      k.sweepPending(id),
      String(trial.index),
      JSON.stringify(trial),
      event.type,
      JSON.stringify(event.data),
      score === undefined || !Number.isFinite(score) ? '' : String(score),
      best ? JSON.stringify(best) : '',
      new Date().toISOString(),
    );
    return { ended: ended === 1, best: better === 1, completed: done === 1 };
  }

  /** Cancels a running sweep (no more trials start; terminal event). False when it was not running. */
  async cancel(id: string): Promise<boolean> {
    const k = this.keys;
    return (await this.r.tsnnSweepCancel(k.sweep(id), k.sweepPending(id), k.sweepEvents(id), new Date().toISOString())) === 1;
  }

  /** The ASHA decision for trial `index` at rung `rung` (recorded once; see ASHA in sweep-scripts). */
  async decide(id: string, d: { index: number; jobId: string; rung: number; epoch: number; metric: number; score: number; eta: number }): Promise<'continue' | 'prune'> {
    const k = this.keys;
    const score = Number.isFinite(d.score) ? String(d.score) : 'inf';
    return this.r.tsnnSweepAsha(
      k.sweep(id),
      k.sweepRung(id, d.rung),
      k.sweepDecisions(id),
      String(d.index),
      score,
      String(d.eta),
      String(d.rung),
      d.jobId,
      String(d.epoch),
      String(Number.isFinite(d.metric) ? d.metric : 0),
      new Date().toISOString(),
    );
  }

  /** Every rung decision, in order. */
  async decisions(id: string): Promise<RungDecision[]> {
    return (await this.redis.lrange(this.keys.sweepDecisions(id), 0, -1)).map((s) => JSON.parse(s) as RungDecision);
  }

  /** Appends an event to the sweep's stream; returns its id (0 when the sweep is gone). */
  async appendEvent(id: string, type: SweepEventType, data: unknown): Promise<number> {
    return Number(await this.r.tsnnSweepAppend(this.keys.sweep(id), this.keys.sweepEvents(id), type, JSON.stringify(data)));
  }

  /** Newest first, cursor pagination like jobs. */
  async list(tenant: string, opts: { limit: number; after?: string; status?: SweepStatus }): Promise<{ items: SweepMeta[]; next: string | null }> {
    const items: SweepMeta[] = [];
    let cursor = opts.after;
    for (;;) {
      const want = opts.limit - items.length;
      const { ids, next } = await lexPage(this.redis, this.keys.sweepIndex(tenant), opts.status ? Math.max(want, 50) : want, cursor);
      for (const id of ids) {
        const s = await this.meta(id, tenant);
        if (!s && !(await this.redis.exists(this.keys.sweep(id)))) await this.redis.zrem(this.keys.sweepIndex(tenant), id);
        if (!s || (opts.status && s.status !== opts.status)) continue;
        items.push(s);
        if (items.length === opts.limit) return { items, next: ids.indexOf(id) < ids.length - 1 || next ? id : null };
      }
      if (!next) return { items, next: null };
      cursor = next;
    }
  }

  /** Ids of the sweeps still running (what reconciliation walks). */
  async running(): Promise<string[]> {
    return this.redis.smembers(this.keys.sweepsRunning());
  }

  /** A finished sweep: off the running set, and every key gets the retention TTL. */
  async retire(id: string): Promise<void> {
    const k = this.keys;
    const rungs = Number((await this.redis.hget(k.sweep(id), 'rungCount')) ?? 0);
    const m = this.redis.multi();
    const ttl = this.retentionSeconds;
    if (ttl > 0) {
      for (const key of [k.sweep(id), k.sweepEvents(id), k.sweepTrials(id), k.sweepPending(id), k.sweepActive(id), k.sweepDecisions(id)]) m.expire(key, ttl);
      for (let i = 0; i < rungs; i++) m.expire(k.sweepRung(id, i), ttl);
    }
    await m.exec();
    await this.redis.srem(k.sweepsRunning(), id);
  }
}
