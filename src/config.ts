import os from 'node:os';
import { z } from 'zod';
import { parseClusterNodes } from './queue/connection.js';
import { DEFAULT_QUEUE_PREFIX, hashTag } from './storage/keys.js';

/** An integer variable ≥ `min` with a default (shared by every config schema). */
export const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
/** `true/false`, `1/0`, `yes/no`, `on/off` (z.coerce.boolean would read "false" as true). */
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'expected true or false' })
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v))
    .default(def);

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
/** Every reliability setting at its default (what a store or queue built without config uses). */
export const RELIABILITY_DEFAULTS: ReliabilityConfig = ReliabilityConfigSchema.parse({});

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
  /**
   * Redis Cluster seed nodes, `host:port,host:port,…`. When set, API and workers use the cluster
   * (REDIS_URL is then ignored); QUEUE_PREFIX or QUEUE_NAME must carry a `{hash tag}`. Unset: REDIS_URL.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .refine((s) => {
      if (s === undefined) return true;
      try {
        return parseClusterNodes(s).length > 0;
      } catch {
        return false;
      }
    }, 'expected host:port,host:port,… (the cluster\'s seed nodes)'),
  /** Training jobs one worker process runs in parallel (each in its own child process). Default: number of cores. */
  WORKER_CONCURRENCY: int(Math.max(1, os.availableParallelism?.() ?? os.cpus().length), 1),
  /**
   * Kernels the trainer children use: `auto` (default: the native AVX-512/AVX2 addon when it is
   * built and the CPU has the features, else WebAssembly), `native` (insist: jobs fail where it
   * cannot load), `wasm` or `js` (the TypeScript reference).
   */
  TRAINING_KERNELS: z.enum(['auto', 'native', 'wasm', 'js']).default('auto'),
  /**
   * On Node 20 the trainer children get `--experimental-wasm-relaxed-simd` (the fused multiply-add
   * Wasm kernels); `false` runs plain SIMD128. Node 22+ has relaxed SIMD on without a flag. Default true.
   */
  TRAINING_WASM_FMA: bool(true),
  /**
   * Most threads one job's big matrix products use when its worker runs fewer jobs than the
   * machine has cores (native kernels; idle cores are shared out and given back when another job
   * starts). 1 turns the sharing off. Default: number of cores.
   */
  TRAINING_MAX_THREADS: int(Math.max(1, os.availableParallelism?.() ?? os.cpus().length), 1),
  /** Worker processes `npm start` runs (each trains WORKER_CONCURRENCY jobs at once). Default 1. */
  WORKERS: int(1, 1),
  /** pino level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest dataset upload (CSV, JSON Lines or multipart, streamed; also the most bytes once gunzipped) and CSV predict body, in bytes. Default 2 GiB. */
  MAX_DATASET_BYTES: int(2 * 1024 ** 3, 1),
  /** Largest application/json dataset upload or predict body (JSON is parsed whole, CSV streams), in bytes; at most MAX_DATASET_BYTES is used. Default 50 MiB. */
  MAX_JSON_DATASET_BYTES: int(50 * 1024 * 1024, 1),
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
  /** BullMQ queue (under QUEUE_PREFIX) from which workers deliver webhooks. Default `webhooks`. */
  WEBHOOK_QUEUE_NAME: z.string().min(1).default('webhooks'),
  /** Webhook deliveries one worker process sends at once. Default 8. */
  WEBHOOK_CONCURRENCY: int(8, 1),
  /**
   * Delays between webhook delivery attempts, comma-separated, each `<n>ms|s|m|h` (a plain number
   * is ms); one more attempt than entries. ±10% jitter. Default the Standard Webhooks schedule
   * `5s,5m,30m,2h,5h,10h,14h,20h,24h`.
   */
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default('5s,5m,30m,2h,5h,10h,14h,20h,24h')
    .transform((s, ctx) => {
      const ms = parseSchedule(s);
      if (!ms) {
        ctx.addIssue({ code: 'custom', message: 'must be comma-separated durations like 5s,5m,2h (a plain number is ms)' });
        return z.NEVER;
      }
      return ms;
    }),
  /** Least milliseconds between two `job.progress` webhooks of one job (sent at epoch ends). Default 5000. */
  WEBHOOK_PROGRESS_INTERVAL_MS: int(5000),
  /** Milliseconds one webhook delivery may take (connect to last byte). Default 10000. */
  WEBHOOK_TIMEOUT_MS: int(10_000, 1),
  /**
   * `true` lets webhooks target loopback, private (RFC 1918, ULA), link-local and other
   * non-public addresses (checked at registration and again at each delivery). Default false:
   * refused, so a tenant cannot make the service call into its own network (SSRF).
   */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  /** Epoch-end checkpoints kept per job as artifacts (`GET /v1/jobs/{id}/checkpoints`, `fromCheckpoint`): the last N plus the best. Default 3. */
  CHECKPOINTS_KEPT: int(3, 1),
  /** Webhook endpoints one tenant may register. Default 20. */
  MAX_WEBHOOKS_PER_TENANT: int(20, 1),
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
  /** Most data rows in one dataset. Default 10000000. */
  MAX_DATASET_ROWS: int(10_000_000, 2),
  /** Most columns (features + targets) in one dataset. Default 10000. */
  MAX_DATASET_COLUMNS: int(10_000, 2),
  /** Most trainable parameters (weights + biases) of one model. Default 10000000. */
  MAX_PARAMS: int(10_000_000, 1),
  /** Most work per job: epochs × training rows × parameters. Default 1e12 (hours, not days, on one core). */
  MAX_TRAINING_COST: z.coerce.number().positive().default(1e12),
  /** Origins allowed by CORS, comma-separated (`*` for any). Unset: no CORS headers (browsers block cross-origin calls). */
  CORS_ORIGINS: z.string().optional(),
  /** Where dataset and model blobs live: `local` (DATA_DIR) or `s3` (S3_BUCKET). Default: `s3` when S3_BUCKET is set, else `local`. */
  BLOB_STORE: z.enum(['local', 's3']).optional(),
  /** Directory of the local blob store (written as temp file + rename). Default `.data/blobs`. */
  DATA_DIR: z.string().min(1).default('.data/blobs'),
  /** S3 (or S3-compatible) bucket of the `s3` blob store; setting it selects that store unless BLOB_STORE says otherwise. */
  S3_BUCKET: z.string().min(1).optional(),
  /** Endpoint of an S3-compatible service (MinIO, ...), e.g. `http://minio:9000`. Unset: AWS S3 of S3_REGION. */
  S3_ENDPOINT: z.string().url().optional(),
  /** Region of the bucket. Default `us-east-1`. Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, instance role). */
  S3_REGION: z.string().min(1).default('us-east-1'),
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most S3-compatible servers need. Default false. */
  S3_FORCE_PATH_STYLE: bool(false),
  /** Worker-local disk cache of downloaded blobs (by dataset id and sha256), for the `s3` store. Default `.data/blob-cache`. */
  BLOB_CACHE_DIR: z.string().min(1).default('.data/blob-cache'),
  /** Most bytes the worker's blob cache keeps (least recently used files go first); 0 disables the cache. Default 20 GiB. */
  BLOB_CACHE_MAX_BYTES: int(20 * 1024 ** 3),
  /** Milliseconds a job waits before running again when its dataset could not be read (blob store down); no attempt is used. Default 5000. */
  BLOB_RETRY_DELAY_MS: int(5000),
  /** Models and checkpoints of at most this many bytes stay inline in Redis; bigger ones go to the blob store (docs/storage.md). Default 65536. */
  BLOB_INLINE_MAX_BYTES: int(64 * 1024),
  /** Milliseconds between two orphan-blob sweeps of the API (blobs no record references); 0 disables it. Default 600000 (10 min). */
  BLOB_SWEEP_MS: int(600_000),
  /** An unreferenced blob younger than this is left alone (its record may be about to be written). Default 3600000 (1 h). */
  BLOB_ORPHAN_GRACE_MS: int(3_600_000),
  // Checkpoints, stalled-job recovery, shutdown and retention (docs/reliability.md).
  ...ReliabilityConfigSchema.shape,
});

/** On a Redis Cluster, BullMQ's scripts touch many keys of the queue: they must share one slot. */
function checkCluster(c: Pick<z.infer<typeof ConfigSchema>, 'REDIS_CLUSTER_NODES' | 'QUEUE_PREFIX' | 'QUEUE_NAME'>, ctx: z.RefinementCtx): void {
  const sample = `${c.QUEUE_PREFIX}:${c.QUEUE_NAME}:x`;
  if (c.REDIS_CLUSTER_NODES && hashTag(sample) === sample)
    ctx.addIssue({ code: 'custom', path: ['QUEUE_PREFIX'], message: 'on a Redis Cluster QUEUE_PREFIX (or QUEUE_NAME) must contain a {hash tag}, e.g. {bull}' });
}

export type Config = z.infer<typeof ConfigSchema>;

/** The environment of a child process of this one: this process's variables with `overrides` on top. */
export function childProcessEnv(overrides: Record<string, string>): Record<string, string | undefined> {
  return { ...process.env, ...overrides };
}

/** The reliability settings of a validated config. */
export function reliabilityOf(c: Partial<ReliabilityConfig>): ReliabilityConfig {
  const out = { ...RELIABILITY_DEFAULTS };
  for (const k of Object.keys(RELIABILITY_DEFAULTS) as (keyof ReliabilityConfig)[]) if (c[k] !== undefined) out[k] = c[k]!;
  return out;
}

/** `c` as environment variables, for a child process that reads them with {@link loadReliabilityConfig}. */
export function reliabilityEnv(c: ReliabilityConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, String(v)]));
}

/** Parses the reliability variables of `env` (default `process.env`: a trainer child's, set by its worker); throws naming the bad variable. A variable set but empty is unset. */
export function loadReliabilityConfig(env: Record<string, string | undefined> = process.env): ReliabilityConfig {
  const parsed = ReliabilityConfigSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The settings of the blob store (what the API and the worker's trainer children must agree on). */
export const BLOB_SETTINGS = ['BLOB_STORE', 'DATA_DIR', 'S3_BUCKET', 'S3_ENDPOINT', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'BLOB_CACHE_DIR', 'BLOB_CACHE_MAX_BYTES', 'BLOB_RETRY_DELAY_MS', 'BLOB_INLINE_MAX_BYTES'] as const;
export type BlobConfig = Pick<Config, (typeof BLOB_SETTINGS)[number]>;

/** The blob store a config selects: BLOB_STORE, else `s3` when S3_BUCKET is set, else `local`. */
export function blobStoreKind(c: Pick<Config, 'BLOB_STORE' | 'S3_BUCKET'>): 'local' | 's3' {
  return c.BLOB_STORE ?? (c.S3_BUCKET ? 's3' : 'local');
}

/** The blob settings of `c` as environment variables (for child processes). */
export function blobConfigEnv(c: BlobConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of BLOB_SETTINGS) if (c[k] !== undefined) env[k] = String(c[k]);
  return env;
}

/** Parses only the blob settings of `env` (a trainer child reads these; the worker validated the rest). */
export function loadBlobConfig(env: Record<string, string | undefined> = process.env): BlobConfig {
  const parsed = ConfigSchema.pick({ BLOB_STORE: true, DATA_DIR: true, S3_BUCKET: true, S3_ENDPOINT: true, S3_REGION: true, S3_FORCE_PATH_STYLE: true, BLOB_CACHE_DIR: true, BLOB_CACHE_MAX_BYTES: true, BLOB_RETRY_DELAY_MS: true, BLOB_INLINE_MAX_BYTES: true })
    .superRefine(checkBlob)
    .safeParse(withoutEmpty(env));
  if (!parsed.success) throw new ConfigError(`invalid environment: ${configErrorLines(env, parsed.error.issues).join('; ')}`);
  return parsed.data;
}

function checkBlob(c: { BLOB_STORE?: 'local' | 's3'; S3_BUCKET?: string }, ctx: z.RefinementCtx) {
  if (c.BLOB_STORE === 's3' && !c.S3_BUCKET) ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'required when BLOB_STORE=s3' });
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `5s,5m,2h` → `[5000, 300000, 7200000]`; null when an entry is not `<number>[ms|s|m|h]`. */
export function parseSchedule(s: string): number[] | null {
  const out: number[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(part);
    if (!m) return null;
    out.push(Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']));
  }
  return out;
}

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
  const parsed = ConfigSchema.superRefine(checkBlob).superRefine(checkCluster).safeParse(withoutEmpty(env));
  if (!parsed.success) throw new ConfigError(`invalid environment: ${configErrorLines(env, parsed.error.issues).join('; ')}`);
  return parsed.data;
}

/**
 * For process entry points: {@link loadConfig}, or one clean line per bad variable on stderr
 * (no stack trace) and exit code 1.
 */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.superRefine(checkBlob).superRefine(checkCluster).safeParse(withoutEmpty(env));
  if (parsed.success) return parsed.data;
  for (const line of configErrorLines(env, parsed.error.issues)) process.stderr.write(`invalid environment: ${line}\n`);
  process.exit(1);
}

const TRAINER_KEYS = {
  REDIS_URL: true,
  REDIS_CLUSTER_NODES: true,
  LOG_LEVEL: true,
  PROGRESS_INTERVAL_MS: true,
  CHECKPOINTS_KEPT: true,
  QUEUE_PREFIX: true,
  WEBHOOK_QUEUE_NAME: true,
  WEBHOOK_PROGRESS_INTERVAL_MS: true,
  TRAINING_KERNELS: true,
  TRAINING_MAX_THREADS: true,
} as const;
/** What a trainer child process reads from the environment. */
export type TrainerConfig = Pick<Config, keyof typeof TRAINER_KEYS>;

/**
 * The settings a trainer child reads (its worker parent validated the whole environment
 * already), with the same rules as {@link loadConfig}: a variable set but empty is unset
 * (`PROGRESS_INTERVAL_MS=` is the default 100, not 0).
 */
export function loadTrainerConfig(env: Record<string, string | undefined> = process.env): TrainerConfig {
  return ConfigSchema.pick(TRAINER_KEYS).parse(withoutEmpty(env));
}
