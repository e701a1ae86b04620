import { trainingCost } from '../core/cost.js';
import type { TrainingSpec } from '../core/types.js';
import type { Dataset } from '../schemas/dataset.js';
import type { JobEstimate, SweepEstimate } from '../schemas/estimate.js';
import { rateFor, ThroughputStore, type Measurements } from '../storage/throughput-store.js';
import type { Services } from './services.js';

/** How long a read of the trainers' throughput is reused by the submit path. */
const RATE_CACHE_MS = 5000;

/** Estimates from the workers' measured throughput and the queue's state. */
export class Estimator {
  private readonly store: ThroughputStore;
  private cached: { at: number; m: Measurements } | null = null;

  constructor(private readonly svc: Services) {
    this.store = new ThroughputStore(svc.redis, svc.keys);
  }

  private async measurements(): Promise<Measurements> {
    if (!this.cached || Date.now() - this.cached.at > RATE_CACHE_MS) this.cached = { at: Date.now(), m: await this.store.measurements() };
    return this.cached.m;
  }

  /** Training seconds of `spec` on `ds` at the measured rate (what a job records at submit). */
  async seconds(spec: TrainingSpec, ds: Dataset): Promise<number> {
    return this.secondsAt(spec, ds, await this.measurements());
  }

  /** {@link seconds} without waiting while the measured rate is cached; undefined when it is not. */
  secondsIfCached(spec: TrainingSpec, ds: Dataset): number | undefined {
    if (!this.cached || Date.now() - this.cached.at > RATE_CACHE_MS) return undefined;
    return this.secondsAt(spec, ds, this.cached.m);
  }

  private secondsAt(spec: TrainingSpec, ds: Dataset, m: Measurements): number {
    const cost = trainingCost(spec, ds);
    return m.overheadSeconds + cost.flops / rateFor(m, cost.params).flopsPerSecond;
  }

  private async queue(seconds: number) {
    const q = this.svc.queue.queue;
    const [waiting, running, slots] = await Promise.all([q.getWaitingCount(), q.getActiveCount(), this.store.slots()]);
    // Slots free now start it at once; otherwise each round of `slots` jobs ahead takes about `seconds`.
    const ahead = waiting + running - slots + 1;
    const startIn = ahead <= 0 ? 0 : Math.ceil(ahead / slots) * seconds;
    return { waiting, running, slots, position: waiting + 1, estimatedStartAt: new Date(Date.now() + startIn * 1000).toISOString(), startIn };
  }

  async job(spec: TrainingSpec, ds: Dataset): Promise<JobEstimate> {
    this.cached = null; // a dry run reads the rate fresh
    const cost = trainingCost(spec, ds);
    const m = await this.measurements();
    const throughput = rateFor(m, cost.params);
    const estimatedSeconds = m.overheadSeconds + cost.flops / throughput.flopsPerSecond;
    const { startIn, ...queue } = await this.queue(estimatedSeconds);
    return {
      dryRun: true,
      params: cost.params,
      flopsPerEpoch: cost.flopsPerEpoch,
      flops: cost.flops,
      memoryBytes: cost.memoryBytes,
      estimatedSeconds,
      throughput,
      queue,
      estimatedFinishAt: new Date(Date.now() + (startIn + estimatedSeconds) * 1000).toISOString(),
    };
  }

  async sweep(specs: TrainingSpec[], ds: Dataset, maxConcurrent: number): Promise<SweepEstimate> {
    this.cached = null;
    const m = await this.measurements();
    const trialEstimates = specs.map((s, index) => {
      const c = trainingCost(s, ds);
      const r = rateFor(m, c.params);
      return { index, params: c.params, flops: c.flops, memoryBytes: c.memoryBytes, flopsPerSecond: r.flopsPerSecond, source: r.source, estimatedSeconds: m.overheadSeconds + c.flops / r.flopsPerSecond };
    });
    const throughput = { flopsPerSecond: trialEstimates.reduce((a, t) => a + t.flops, 0) / Math.max(1e-9, trialEstimates.reduce((a, t) => a + t.estimatedSeconds, 0)), source: trialEstimates[0]?.source ?? ('default' as const), trainers: m.trainers };
    const trialSeconds = trialEstimates.reduce((a, t) => a + t.estimatedSeconds, 0);
    const { startIn, ...queue } = await this.queue(trialEstimates[0]?.estimatedSeconds ?? 0);
    const parallel = Math.max(1, Math.min(maxConcurrent, queue.slots));
    const estimatedSeconds = trialSeconds / parallel;
    return {
      dryRun: true,
      trials: specs.length,
      maxConcurrent,
      flops: trialEstimates.reduce((a, t) => a + t.flops, 0),
      memoryBytes: Math.max(0, ...trialEstimates.map((t) => t.memoryBytes)),
      trialSeconds,
      estimatedSeconds,
      throughput,
      queue,
      estimatedFinishAt: new Date(Date.now() + (startIn + estimatedSeconds) * 1000).toISOString(),
      trialEstimates: trialEstimates.map(({ flopsPerSecond: _f, source: _s, ...t }) => t),
    };
  }
}
