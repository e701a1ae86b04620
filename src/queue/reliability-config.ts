import { z } from 'zod';
import { int } from '../config.js';

/**
 * Environment variables of checkpoints, stalled-job recovery, shutdown and retention. Read by
 * workers, trainer processes and the job store; documented in docs/reliability.md.
 */
export const ReliabilityConfigSchema = z.object({
  /** Most milliseconds between two mid-epoch checkpoints (epoch ends always checkpoint). Default 5000. */
  CHECKPOINT_INTERVAL_MS: int(5000, 10),
  /** BullMQ lock duration of a running job; a dead worker's job is recovered after it lapses. Default 30000. */
  WORKER_LOCK_DURATION_MS: int(30_000, 200),
  /** How often workers look for stalled jobs (lock lapsed). Default 30000. */
  WORKER_STALLED_INTERVAL_MS: int(30_000, 100),
  /** Times a job may be recovered from a dead worker before it fails. Default 100. */
  WORKER_MAX_STALLED_COUNT: int(100, 1),
  /** Longest a worker's graceful shutdown may take before it exits anyway (jobs then recover as stalled). Default 10000. */
  WORKER_SHUTDOWN_TIMEOUT_MS: int(10_000, 100),
  /** First retry delay of an infrastructure failure, doubled each attempt. Default 1000. */
  JOB_BACKOFF_MS: int(1000, 0),
  /** Seconds a finished job (record, events, model, metrics) is kept. Default 604800 (7 days). */
  JOB_RETENTION_SECONDS: int(7 * 24 * 3600, 1),
  /** How often a worker removes expired jobs from the job index. Default 60000. */
  RETENTION_SWEEP_MS: int(60_000, 100),
});

export type ReliabilityConfig = z.infer<typeof ReliabilityConfigSchema>;

/** Parses the reliability variables of `env` (default `process.env`); throws naming the bad variable. */
export function loadReliabilityConfig(env: Record<string, string | undefined> = process.env): ReliabilityConfig {
  const parsed = ReliabilityConfigSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
