import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_QUEUE_PREFIX } from './storage/keys.js';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

/**
 * Environment variables read at start-up. Each is documented in the README; invalid values stop
 * the process with a message naming the variable.
 */
export const ConfigSchema = z.object({
  /** HTTP port of the API. Default 3000. */
  PORT: int(3000).pipe(z.number().max(65535)),
  /** Interface the API binds. Default 0.0.0.0. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Redis shared by API and workers. Default redis://127.0.0.1:6379. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Training jobs one worker process runs in parallel (each in its own child process). Default: number of cores. */
  WORKER_CONCURRENCY: int(Math.max(1, os.availableParallelism?.() ?? os.cpus().length), 1),
  /** Worker processes `npm start` runs (each trains WORKER_CONCURRENCY jobs at once). Default 1. */
  WORKERS: int(1, 1),
  /** pino level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest dataset upload (CSV, JSON or multipart) in bytes. Default 50 MiB. */
  MAX_DATASET_BYTES: int(50 * 1024 * 1024, 1),
  /** Largest body of every other request in bytes. Default 1 MiB. */
  MAX_BODY_BYTES: int(1024 * 1024, 1),
  /** Prefix of every key this service writes (datasets, job records, event streams); no `{` or `}` (keys carry their own hash tags). Default `tsnn:`. */
  KEY_PREFIX: z
    .string()
    .min(1)
    .refine((s) => !/[{}]/.test(s), 'must not contain { or }: job and dataset keys carry their own Redis Cluster hash tags')
    .default('tsnn:'),
  /** BullMQ key prefix. Default `{bull}` (hash-tagged: on a Redis Cluster every key of the queue must share one slot). */
  QUEUE_PREFIX: z.string().min(1).default(DEFAULT_QUEUE_PREFIX),
  /** BullMQ queue name. Default `training`. */
  QUEUE_NAME: z.string().min(1).default('training'),
  /** Attempts per job for infrastructure failures (bad specs are never retried). Default 3. */
  JOB_ATTEMPTS: int(3, 1),
  /** Minimum milliseconds between two progress events of one job (epoch ends included). Default 100. */
  PROGRESS_INTERVAL_MS: int(100),
  /** Milliseconds between SSE heartbeat comments. Default 15000. */
  SSE_HEARTBEAT_MS: int(15_000, 10),
  /** How long an Idempotency-Key is remembered, in seconds. Default 86400. */
  IDEMPOTENCY_TTL_SECONDS: int(86_400, 1),
  /** Most rows one predict request may send. Default 10000. */
  MAX_PREDICT_ROWS: int(10_000, 1),
  /** API keys mapped to tenants: `key:tenant,key2:tenant2` (or `sha256:<hex of the key>:tenant`). Unset: the API runs open. */
  API_KEYS: z.string().optional(),
  /** Requests per RATE_LIMIT_WINDOW_MS per API key (per client IP when open) on `/v1` routes; 0 disables. Default 1200. */
  RATE_LIMIT_MAX: int(1200),
  /** Rate-limit window in milliseconds. Default 60000. */
  RATE_LIMIT_WINDOW_MS: int(60_000, 1),
  /** Queued + running jobs one tenant may have at once; more → 429 `too_many_active_jobs`. Default 20. */
  MAX_ACTIVE_JOBS_PER_TENANT: int(20, 1),
  /** Open SSE streams per API key (per client IP when open) on one API process; more → 429. Default 10. */
  MAX_SSE_STREAMS_PER_KEY: int(10, 1),
  /** Most data rows in one dataset. Default 1000000. */
  MAX_DATASET_ROWS: int(1_000_000, 2),
  /** Most columns (features + targets) in one dataset. Default 10000. */
  MAX_DATASET_COLUMNS: int(10_000, 2),
  /** Most trainable parameters (weights + biases) of one model. Default 10000000. */
  MAX_PARAMS: int(10_000_000, 1),
  /** Most work per job: epochs × training rows × parameters. Default 1e12 (hours, not days, on one core). */
  MAX_TRAINING_COST: z.coerce.number().positive().default(1e12),
  /** Origins allowed by CORS, comma-separated (`*` for any). Unset: no CORS headers (browsers block cross-origin calls). */
  CORS_ORIGINS: z.string().optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Raised when the environment does not validate; the message lists each bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** One line per bad variable: `PORT='abc': Invalid input: expected number, received NaN`. */
function configErrorLines(env: Record<string, string | undefined>, issues: z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const name = String(i.path[0] ?? '(environment)');
    const value = env[name];
    const message = i.code === 'invalid_type' && i.expected === 'number' ? 'not a number' : i.message;
    return `${name}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${message}`;
  });
}

/** `PORT=` (set but empty) means unset, as in most tools: without this it coerced to port 0. */
function withoutEmpty(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
}

/** Parses `env` (default `process.env`) into a typed config, or throws a {@link ConfigError}. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) throw new ConfigError(`invalid environment: ${configErrorLines(env, parsed.error.issues).join('; ')}`);
  return parsed.data;
}

/**
 * For process entry points: {@link loadConfig}, or one clean line per bad variable on stderr
 * (no stack trace) and exit code 1.
 */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.safeParse(withoutEmpty(env));
  if (parsed.success) return parsed.data;
  for (const line of configErrorLines(env, parsed.error.issues)) process.stderr.write(`invalid environment: ${line}\n`);
  process.exit(1);
}
