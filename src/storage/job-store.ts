import { isCluster, type RedisClient } from '../queue/connection.js';
import { RELIABILITY_DEFAULTS } from '../queue/reliability-config.js';
import type { EpochMetrics, Model } from '../core/types.js';
import { CheckpointStore } from './checkpoint-store.js';
import { DEFAULT_INLINE_MAX_BYTES, deleteBlobs, newJobBlobKey, putArtifact, readArtifact, type BlobPointer } from './artifact-blobs.js';
import { BlobStoreUnavailableError, type BlobStore } from './blobs/blob-store.js';
import { decodeModel, encodeModel } from './model-blob.js';
import type { Job, JobError, JobProgress, JobResult, JobStatus } from '../schemas/job.js';
import { submissionSpec, type JobSubmission } from '../schemas/training-spec.js';
import type { JobWebhook } from '../schemas/webhook.js';
import type { JobFromCheckpoint } from '../schemas/checkpoint.js';
import type { JobEventType } from './event-stream.js';
import { newId } from './ids.js';
import { JOB_OUTCOMES_MAX_LEN, type Keys } from './keys.js';
import { lexPage } from './lex-page.js';
import { scripted } from './scripts.js';
import type { Redis } from 'ioredis';

/** Result of {@link JobStore.transition}. */
export interface TransitionResult {
  applied: boolean;
  /** Status before the call ('' when the job does not exist). */
  previous: JobStatus | '';
  eventId: number;
  attempts: number;
}

type Fields = Record<string, string>;

function flat(fields: Fields): string[] {
  const out: string[] = [];
  for (const k in fields) out.push(k, fields[k]);
  return out;
}

/**
 * When a running job should finish: the trainer's own figure from its progress (refreshed with
 * every progress write), else its start plus the estimate made at submit.
 */
function estimatedFinish(h: Fields): { estimatedFinishAt?: string } {
  const p = h.progress ? (JSON.parse(h.progress) as { estimatedFinishAt?: string }) : null;
  if (p?.estimatedFinishAt) return { estimatedFinishAt: p.estimatedFinishAt };
  if (h.startedAt && h.estimatedSeconds) return { estimatedFinishAt: new Date(Date.parse(h.startedAt) + Number(h.estimatedSeconds) * 1000).toISOString() };
  return {};
}

/** A job as the API shows it, from the fields of its record hash; `spec`: its spec already parsed (a record just built from it). */
function toJob(h: Fields, spec?: unknown): Job {
  return {
    id: h.id,
    status: h.status as JobStatus,
    datasetId: h.datasetId,
    spec: spec ?? JSON.parse(h.spec),
    progress: h.progress ? (JSON.parse(h.progress) as JobProgress) : null,
    ...(h.result ? { result: JSON.parse(h.result) as JobResult } : {}),
    ...(h.error ? { error: JSON.parse(h.error) as JobError } : {}),
    createdAt: h.createdAt,
    ...(h.startedAt ? { startedAt: h.startedAt } : {}),
    ...(h.finishedAt ? { finishedAt: h.finishedAt } : {}),
    attempts: Number(h.attempts ?? 0),
    ...(h.cancelRequested === '1' ? { cancelRequested: true } : {}),
    ...(h.maxDurationSeconds ? { maxDurationSeconds: Number(h.maxDurationSeconds) } : {}),
    ...(h.fromCheckpoint ? { fromCheckpoint: JSON.parse(h.fromCheckpoint) as JobFromCheckpoint } : {}),
    ...(h.webhook ? { webhook: JSON.parse(h.webhook) as JobWebhook } : {}),
    ...(h.sweepId ? { sweepId: h.sweepId, sweepTrial: Number(h.sweepTrial) } : {}),
    ...(h.estimatedSeconds ? { estimatedSeconds: Number(h.estimatedSeconds) } : {}),
    ...(h.status === 'running' ? estimatedFinish(h) : {}),
  };
}

/** What {@link JobStore.create} records besides the submission. */
export interface CreateOptions {
  sweep?: { id: string; trial: number };
  fromCheckpoint?: JobFromCheckpoint;
  estimatedSeconds?: number;
}

/** Outcome of {@link JobStore.createReserved}; `after`: the result of the batch's own command, when one was sent. */
export type Reserved = ({ kind: 'created'; job: Job } | { kind: 'full' | 'dataset_gone' }) & { after?: [Error | null, unknown] };

/**
 * A connection (to the same Redis) to send {@link JobStore.createReserved}'s script on, and a
 * command of the caller's that `alongside` issues on that connection at once, so both leave in
 * one write. That command runs whatever the script decided: the caller undoes it when the
 * script created nothing.
 */
export interface ReservedBatch {
  connection: Redis;
  alongside: () => Promise<unknown>;
}

/** The record hash of a new `queued` job (`spec`: the submission's, when the caller has it already). */
function recordFields(tenant: string, submission: JobSubmission, id: string, opts: CreateOptions, spec = submissionSpec(submission)): Fields {
  const { datasetId, maxDurationSeconds, webhook } = submission;
  const fields: Fields = {
    id,
    tenant,
    status: 'queued',
    datasetId,
    spec: JSON.stringify(spec),
    createdAt: new Date().toISOString(),
    attempts: '0',
    // Event 1 (`status` `queued`) is implied by the record (FIRST_JOB_EVENT); the stream starts at 2.
    eventSeq: '1',
  };
  if (maxDurationSeconds) fields.maxDurationSeconds = String(maxDurationSeconds);
  if (webhook) fields.webhook = JSON.stringify(webhook);
  if (opts.sweep) {
    fields.sweepId = opts.sweep.id;
    fields.sweepTrial = String(opts.sweep.trial);
  }
  if (opts.fromCheckpoint) fields.fromCheckpoint = JSON.stringify(opts.fromCheckpoint);
  if (opts.estimatedSeconds !== undefined && Number.isFinite(opts.estimatedSeconds)) fields.estimatedSeconds = String(opts.estimatedSeconds);
  return fields;
}

/** Options of {@link JobStore}. */
export interface JobStoreOptions {
  /** Seconds a finished job's keys live. Default `JOB_RETENTION_SECONDS` (7 days). */
  retentionSeconds?: number;
  /** Called once a {@link JobStore.finish} applied (webhooks); awaited, and it must not throw. */
  onFinished?: (job: Job, tenant: string) => Promise<void>;
  /**
   * Where models (and checkpoints, through {@link JobStore.checkpoints}) bigger than
   * `inlineMaxBytes` go. Unset: everything stays in Redis (as before blob storage).
   */
  blobs?: BlobStore;
  /** Models whose JSON is at most this many bytes stay inline in Redis. Default {@link DEFAULT_INLINE_MAX_BYTES}. */
  inlineMaxBytes?: number;
}

/** The blob pointer a stored model value holds, or null (an inline model JSON). */
export function modelPointer(value: string | null | undefined): BlobPointer | null {
  if (!value || !value.startsWith('{"blob":')) return null;
  return JSON.parse(value) as BlobPointer;
}

/** One submit waiting for its turn's {@link JobStore.createReserved} script. */
interface PendingSubmit {
  keys: string[];
  /** id, max, record fields but spec (JSON), spec. */
  argv: string[];
  /** The caller's command, issued right after the script in the same write. */
  alongside?: () => Promise<unknown>;
  done: (code: number, after: [Error | null, unknown] | undefined) => void;
  failed: (err: unknown) => void;
}

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/** What a command issued by `issue` settled to: [error, undefined] or [null, value] (a synchronous throw included). */
function settled(issue: () => Promise<unknown>): Promise<[Error | null, unknown]> {
  try {
    return issue().then(
      (v) => [null, v],
      (err: unknown) => [asError(err), undefined],
    );
  } catch (err) {
    return Promise.resolve([asError(err), undefined]);
  }
}

/** Job records: a hash per job, an index sorted set per tenant, an event stream per job. */
export class JobStore {
  private readonly r;
  readonly retentionSeconds: number;
  private readonly onFinished: JobStoreOptions['onFinished'];
  readonly blobs: BlobStore | undefined;
  readonly inlineMaxBytes: number;
  /** Model blobs read lately (immutable under their key): predict and evaluate read the same model again and again. */
  private readonly modelCache = new Map<string, Buffer>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    opts: JobStoreOptions = {},
  ) {
    this.r = scripted(redis);
    this.retentionSeconds = opts.retentionSeconds ?? RELIABILITY_DEFAULTS.JOB_RETENTION_SECONDS;
    this.onFinished = opts.onFinished;
    this.blobs = opts.blobs;
    this.inlineMaxBytes = opts.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
  }

  /** The job's checkpoints, on the same Redis and blob store. */
  checkpoints(): CheckpointStore {
    return new CheckpointStore(this.redis, this.keys, { ...(this.blobs ? { blobs: this.blobs } : {}), inlineMaxBytes: this.inlineMaxBytes });
  }

  /**
   * What the model key of job `id` is to hold: the model JSON, or, when bigger than
   * `inlineMaxBytes` and a blob store is set, the pointer to its binary blob (written here,
   * first, under a key unique to `attempt`). With the store unreachable the model stays inline:
   * a finished model is never lost for an outage.
   */
  private async modelValue(id: string, model: Model, attempt: number | undefined): Promise<{ value: string; blob?: string }> {
    const json = JSON.stringify(model);
    if (!this.blobs || Buffer.byteLength(json) <= this.inlineMaxBytes) return { value: json };
    try {
      const p = await putArtifact(this.blobs, newJobBlobKey(this.keys.jobBlobs(id), 'model', attempt ?? 'x'), encodeModel(model));
      return { value: JSON.stringify(p), blob: p.blob };
    } catch (err) {
      if (err instanceof BlobStoreUnavailableError) return { value: json };
      throw err;
    }
  }

  /**
   * Creates a `queued` job record (its first event, id 1, is implied: FIRST_JOB_EVENT), then puts
   * the id in the dataset's active-job set and the tenant's index (other slots on a cluster), and
   * returns the job as {@link JobStore.get} would read it back. The record is the truth: both set
   * entries are idempotent and the sweeper (retention.ts) re-adds them from the record after a
   * crash in between. On one Redis the three go out together (one round trip, run in order); on a
   * cluster the record is written first.
   */
  async create(tenant: string, submission: JobSubmission, id = newId('job'), opts: CreateOptions = {}): Promise<Job> {
    const fields = recordFields(tenant, submission, id, opts);
    const record = this.redis.hset(this.keys.job(id), fields);
    if (isCluster(this.redis)) await record;
    await Promise.all([record, this.redis.sadd(this.keys.datasetActiveJobs(fields.datasetId), id), this.redis.zadd(this.keys.jobIndex(tenant), 0, id)]);
    return toJob(fields);
  }

  /**
   * The submit path's {@link create} on one Redis: in one script (one round trip), reserves a
   * place among `tenant`'s active jobs (at most `maxActive`), then writes what {@link create}
   * writes, but only while the dataset record exists. `dataset_gone` and `full` write nothing;
   * at `full` the caller drops the reservations of ended jobs (tryReserveActiveJob) and creates
   * the job step by step. Null on a cluster (the keys are on several slots): use the steps.
   *
   * The submits of one event-loop turn share one script call, sent at the end of the turn (the
   * check phase) with each submit's `batch.alongside` command right after it, in one write:
   * ~9 submits per turn under bench:submit's load, where each script call and each write had a
   * fixed cost of its own (command building, reply, Lua call, `writev`).
   */
  async createReserved(tenant: string, submission: JobSubmission, id: string, maxActive: number, opts: CreateOptions = {}, batch?: ReservedBatch): Promise<Reserved | null> {
    if (isCluster(this.redis)) return null;
    const specObject = submissionSpec(submission);
    const fields = recordFields(tenant, submission, id, opts, specObject);
    const k = this.keys;
    const ds = fields.datasetId;
    const { spec, ...others } = fields;
    const { code, after } = await new Promise<{ code: number; after?: [Error | null, unknown] }>((resolve, reject) =>
      this.submitThisTurn(batch?.connection ?? (this.redis as Redis), {
        keys: [k.activeJobs(tenant), k.job(id), k.dataset(ds), k.datasetActiveJobs(ds), k.jobIndex(tenant)],
        argv: [id, String(maxActive), JSON.stringify(others), spec],
        alongside: batch?.alongside,
        done: (c, a) => resolve({ code: c, after: a }),
        failed: reject,
      }),
    );
    if (code === -1) return { kind: 'dataset_gone', after };
    if (code === 0) return { kind: 'full', after };
    return { kind: 'created', job: toJob(fields, specObject), after };
  }

  /** Submits waiting for the end of this turn, per connection. */
  private readonly turn = new Map<Redis, PendingSubmit[]>();

  private submitThisTurn(connection: Redis, submit: PendingSubmit): void {
    const pending = this.turn.get(connection);
    if (pending) return void pending.push(submit);
    this.turn.set(connection, [submit]);
    setImmediate(() => this.flushTurn(connection));
  }

  /** One script for the turn's submits, then their own commands, all in one write. */
  private flushTurn(connection: Redis): void {
    const pending = this.turn.get(connection)!;
    this.turn.delete(connection);
    const keys: string[] = [];
    const argv: string[] = [String(Date.now())];
    for (const p of pending) {
      keys.push(...p.keys);
      argv.push(...p.argv);
    }
    const corked = connection.status === 'ready';
    if (corked) connection.stream.cork();
    const script = settled(() => scripted(connection).tsnnSubmitJobs(keys.length, ...keys, ...argv));
    const others = pending.map((p) => (p.alongside ? settled(p.alongside) : undefined));
    if (corked) connection.stream.uncork();
    void script.then(([err, codes]) =>
      pending.forEach((p, i) => {
        if (err) return p.failed(err);
        const code = (codes as number[])[i];
        const other = others[i];
        if (!other) p.done(code, undefined);
        else void other.then((after) => p.done(code, after));
      }),
    );
  }

  /** The job `id` when it exists and belongs to `tenant` (`undefined`: any tenant). */
  async get(id: string, tenant?: string): Promise<Job | null> {
    const h = await this.redis.hgetall(this.keys.job(id));
    if (!h.id || (tenant !== undefined && h.tenant !== tenant)) return null;
    return toJob(h);
  }

  /** The owning tenant, or null when the job does not exist. */
  async tenantOf(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.job(id), 'tenant');
  }

  /** Newest first; with `status`, pages keep scanning until `limit` matches or the index ends. */
  async list(tenant: string, opts: { limit: number; after?: string; status?: JobStatus }): Promise<{ items: Job[]; next: string | null }> {
    const items: Job[] = [];
    let cursor = opts.after;
    for (;;) {
      const want = opts.limit - items.length;
      const { ids, next } = await lexPage(this.redis, this.keys.jobIndex(tenant), opts.status ? Math.max(want, 50) : want, cursor);
      for (const id of ids) {
        const job = await this.get(id, tenant);
        // Expired by retention: drop it from the index on the way.
        if (!job && !(await this.redis.exists(this.keys.job(id)))) await this.redis.zrem(this.keys.jobIndex(tenant), id);
        if (!job || (opts.status && job.status !== opts.status)) continue;
        items.push(job);
        if (items.length === opts.limit) {
          const last = id;
          const moreInPage = ids.indexOf(id) < ids.length - 1;
          return { items, next: moreInPage || next ? last : null };
        }
      }
      if (!next) return { items, next: null };
      cursor = next;
    }
  }

  /** Appends an event (and optional record fields) atomically; returns its id, 0 if the job is gone. */
  async appendEvent(id: string, type: JobEventType, data: unknown, fields: Fields = {}): Promise<number> {
    return Number(await this.r.tsnnAppendEvent(this.keys.job(id), this.keys.jobEvents(id), type, JSON.stringify(data), ...flat(fields)));
  }

  /**
   * Moves job `id` to new fields when its status is one of `from` (and, with `attempt`, only while
   * that attempt owns it: previous `fenced` otherwise), optionally counting an attempt and
   * appending an event, all atomically.
   */
  async transition(
    id: string,
    from: readonly JobStatus[],
    fields: Fields,
    opts: { incrementAttempts?: boolean; event?: { type: JobEventType; data: unknown }; attempt?: number } = {},
  ): Promise<TransitionResult> {
    const [applied, previous, eventId, attempts] = await this.r.tsnnTransition(
      this.keys.job(id),
      this.keys.jobEvents(id),
      from.join(','),
      opts.incrementAttempts ? '1' : '0',
      opts.event?.type ?? '',
      opts.event ? JSON.stringify(opts.event.data) : '',
      opts.attempt === undefined ? '' : String(opts.attempt),
      ...flat(fields),
    );
    return { applied: applied === 1, previous: previous as JobStatus | '', eventId: Number(eventId), attempts: Number(attempts) };
  }

  /**
   * Ends a job: status `to` with result or error, and the terminal event carrying the job, only
   * if it is still in one of `from` (and, with `attempt`, only while that attempt owns it). In
   * the same atomic step its checkpoint is deleted and all its keys get the retention TTL; then
   * the job leaves its dataset's active-job set (another slot on a cluster: a step of its own).
   */
  async finish(
    id: string,
    from: readonly JobStatus[],
    to: 'completed' | 'failed' | 'cancelled' | 'pruned',
    extra: { result?: JobResult; error?: JobError; progress?: JobProgress; artifacts?: { model: Model; history: EpochMetrics[] } } = {},
    opts: { attempt?: number } = {},
  ): Promise<TransitionResult> {
    const current = await this.get(id);
    if (!current) return { applied: false, previous: '', eventId: 0, attempts: 0 };
    const finishedAt = new Date().toISOString();
    const fields: Fields = { status: to, finishedAt };
    const { artifacts, ...record } = extra;
    if (record.result) fields.result = JSON.stringify(record.result);
    if (record.error) fields.error = JSON.stringify(record.error);
    if (record.progress) fields.progress = JSON.stringify(record.progress);
    const job: Job = { ...current, status: to, finishedAt, ...record };
    const k = this.keys;
    const model = artifacts ? await this.modelValue(id, artifacts.model, opts.attempt) : null;
    const [applied, previous, eventId, attempts, checkpointBlob, oldModel] = await this.r.tsnnFinish(
      k.job(id),
      k.jobEvents(id),
      k.jobModel(id),
      k.jobMetrics(id),
      k.jobCheckpoint(id),
      from.join(','),
      opts.attempt === undefined ? '' : String(opts.attempt),
      String(this.retentionSeconds),
      to,
      JSON.stringify(job),
      // kept model and metrics, written in the same step as the status
      model ? model.value : '',
      artifacts ? JSON.stringify(artifacts.history) : '',
      ...flat(fields),
    );
    // The blobs this step orphaned (its checkpoint's, a replaced model's), or the one it wrote in vain.
    if (applied === 1) await deleteBlobs(this.blobs, [checkpointBlob, modelPointer(oldModel)?.blob]);
    else await deleteBlobs(this.blobs, [model?.blob]);
    // Second step, on the dataset's slot: idempotent, and the sweeper drops ended jobs left there by a crash.
    // Beside it (another slot), the outcome for the API's finished-job metrics.
    if (applied === 1)
      await Promise.all([
        this.redis.srem(k.datasetActiveJobs(current.datasetId), id),
        this.redis.xadd(k.jobOutcomes(), 'MAXLEN', '~', String(JOB_OUTCOMES_MAX_LEN), '*', 'job', id, 'status', to),
      ]);
    if (applied === 1 && this.onFinished) {
      const tenant = await this.tenantOf(id);
      if (tenant !== null) await this.onFinished({ ...job, attempts: Number(attempts) }, tenant);
    }
    return { applied: applied === 1, previous: previous as JobStatus | '', eventId: Number(eventId), attempts: Number(attempts) };
  }

  /** Marks a running job for cancellation (workers see the flag or the pub/sub message). */
  async requestCancel(id: string): Promise<void> {
    await this.redis.multi().hset(this.keys.job(id), 'cancelRequested', '1').publish(this.keys.cancelChannel(), id).exec();
  }

  async isCancelRequested(id: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.job(id), 'cancelRequested')) === '1';
  }

  /**
   * Stores the trained model and its per-epoch history; with `attempt`, only while that attempt
   * owns the running job (returns false when fenced).
   */
  async saveArtifacts(id: string, model: Model, history: EpochMetrics[], opts: { attempt?: number } = {}): Promise<boolean> {
    const m = await this.modelValue(id, model, opts.attempt);
    const k = this.keys;
    if (opts.attempt !== undefined) {
      const [ok, old] = await this.r.tsnnOwnedArtifacts(k.job(id), k.jobModel(id), k.jobMetrics(id), String(opts.attempt), m.value, JSON.stringify(history));
      // Fenced: the blob just written is referenced by nothing.
      await deleteBlobs(this.blobs, [ok === 1 ? modelPointer(old)?.blob : m.blob]);
      return ok === 1;
    }
    const res = await this.redis.multi().get(k.jobModel(id)).set(k.jobModel(id), m.value).set(k.jobMetrics(id), JSON.stringify(history)).exec();
    await deleteBlobs(this.blobs, [modelPointer(res?.[0]?.[1] as string | null)?.blob]);
    return true;
  }

  /** The stored model of job `id`: inline JSON (small models, and every model stored before blob storage) or its blob. */
  async getModel(id: string): Promise<Model | null> {
    const s = await this.redis.get(this.keys.jobModel(id));
    if (!s) return null;
    const p = modelPointer(s);
    if (!p) return JSON.parse(s) as Model;
    if (!this.blobs) throw new Error(`the model of job '${id}' is in the blob store, and this process has none`);
    let bytes = this.modelCache.get(p.blob);
    if (!bytes) {
      bytes = await readArtifact(this.blobs, p);
      this.modelCache.set(p.blob, bytes);
      let total = 0;
      for (const b of this.modelCache.values()) total += b.length;
      for (const key of this.modelCache.keys()) {
        if (total <= 64 * 1024 * 1024 || this.modelCache.size <= 1) break;
        total -= this.modelCache.get(key)!.length;
        this.modelCache.delete(key);
      }
    } else {
      // most recently used last
      this.modelCache.delete(p.blob);
      this.modelCache.set(p.blob, bytes);
    }
    return decodeModel(bytes);
  }

  async getMetrics(id: string): Promise<EpochMetrics[] | null> {
    const s = await this.redis.get(this.keys.jobMetrics(id));
    return s ? (JSON.parse(s) as EpochMetrics[]) : null;
  }

  /**
   * The per-epoch history so far: the stored metrics once written, else the history carried by
   * the job's last checkpoint (a resume continues from that checkpoint, so each finished epoch
   * appears exactly once), else `[]`.
   */
  async getHistorySoFar(id: string): Promise<EpochMetrics[]> {
    // Metrics are stored before the checkpoint is deleted, so reading metrics again after the
    // checkpoint closes the window in which the job finishes between the two reads.
    return (
      (await this.getMetrics(id)) ??
      (await this.checkpoints().load(id))?.checkpoint.history ??
      (await this.getMetrics(id)) ??
      []
    );
  }
}
