import { isCluster, type RedisClient } from '../queue/connection.js';
import type { Dataset } from '../schemas/dataset.js';
import type { BlobStore } from './blobs/blob-store.js';
import { TERMINAL_STATUSES } from '../schemas/job.js';
import { newId } from './ids.js';
import type { Keys } from './keys.js';
import { lexPage } from './lex-page.js';

/**
 * A dataset's row-major values, as any upload format parses to. Float64Array values are stored
 * as float32 when that is lossless; a Float32Array is stored as it is (the parser already chose).
 */
export interface DatasetValues {
  rows: number;
  featureCount: number;
  targetWidth: number;
  /** rows × featureCount values. */
  features: Float32Array | Float64Array;
  /** rows × targetWidth values. */
  targets: Float32Array | Float64Array;
  columns?: string[];
  targetColumns?: string[];
}

/** A parsed upload with its owner and name, to store. */
export interface DatasetInput extends DatasetValues {
  /** Id to store under (an Idempotency-Key claims it first). Default: a new id. */
  id?: string;
  tenant: string;
  name: string;
}

/** What a worker trains on: the metadata and flat typed arrays of the stored dtype. */
export interface LoadedDataset {
  meta: Dataset;
  features: Float32Array | Float64Array;
  targets: Float32Array | Float64Array;
}

/** True when every value survives a round trip through float32, so storing float32 loses nothing. */
function fitsFloat32(a: Float32Array | Float64Array): boolean {
  if (a instanceof Float32Array) return true;
  for (let i = 0; i < a.length; i++) if (Math.fround(a[i]) !== a[i]) return false;
  return true;
}

/** `a` in `dtype`: itself when it already is, else a converted copy. */
function as(dtype: 'float32' | 'float64', a: Float32Array | Float64Array): Float32Array | Float64Array {
  if (dtype === 'float32') return a instanceof Float32Array ? a : Float32Array.from(a);
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Blob key of a dataset: features then targets, little-endian, of the stored dtype. */

/** Copies (Redis buffers may be unaligned slices of a pool) into a typed array of `dtype`. */
function fromBuffer(b: Buffer, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const copy = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return dtype === 'float32' ? new Float32Array(copy) : new Float64Array(copy);
}

/**
 * Deleting a dataset that a queued or running job still needs. Carries HTTP status 409 and code
 * `dataset_in_use`, which the API's error handler turns into a problem document.
 */
export class DatasetInUseError extends Error {
  override name = 'DatasetInUseError';
  readonly statusCode = 409;
  readonly code = 'dataset_in_use';
  constructor(
    readonly datasetId: string,
    readonly jobIds: string[],
  ) {
    super(`dataset '${datasetId}' is used by ${jobIds.length} queued or running job(s) (${jobIds.slice(0, 5).join(', ')}); cancel them or wait until they finish`);
  }
}

/**
 * Datasets: the values in one blob (features then targets, little-endian float32 when lossless,
 * else float64; its sha256 is computed while writing) and, in Redis, only the metadata (JSON in a
 * hash with the owner and the blob key) and an index sorted set per tenant. Datasets stored in
 * Redis before blob storage (binary strings at `ds:<id>:x` / `:y`) are still read from there.
 */
export class DatasetStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly blobs: BlobStore,
  ) {}

  /** Stores `input` once and returns its metadata. */
  async create(input: DatasetInput): Promise<Dataset> {
    const id = input.id ?? newId('ds');
    let integer = true;
    let max = -Infinity;
    let min = Infinity;
    for (const v of input.targets) {
      if (v > max) max = v;
      if (v < min) min = v;
      if (integer && !Number.isInteger(v)) integer = false;
    }
    const dtype = fitsFloat32(input.features) && fitsFloat32(input.targets) ? 'float32' : 'float64';
    const X = as(dtype, input.features);
    const Y = as(dtype, input.targets);
    const blobKey = this.keys.datasetBlob(id);
    // The blob first: a dataset becomes visible (Redis) only once all its bytes are stored.
    const blob = await this.blobs.put(blobKey, [bytesOf(X), bytesOf(Y)]);
    const meta: Dataset = {
      id,
      name: input.name,
      rows: input.rows,
      features: input.featureCount,
      targets: input.targetWidth,
      targetKind: integer ? 'integer' : 'real',
      ...(integer && input.targetWidth === 1 && min >= 0 ? { classes: max + 1 } : {}),
      bytes: X.byteLength + Y.byteLength,
      dtype,
      sha256: blob.sha256,
      ...(input.columns ? { columns: input.columns } : {}),
      ...(input.targetColumns ? { targetColumns: input.targetColumns } : {}),
      createdAt: new Date().toISOString(),
    };
    try {
      const record = this.redis.hset(this.keys.dataset(id), { tenant: input.tenant, meta: JSON.stringify(meta), blob: blobKey });
      // The index is another slot on a cluster: a second, idempotent step (the sweeper re-adds a
      // record missing from it). On one Redis both go out together and run in order.
      if (isCluster(this.redis)) await record;
      await Promise.all([record, this.redis.zadd(this.keys.datasetIndex(input.tenant), 0, id)]);
    } catch (err) {
      await this.redis.del(this.keys.dataset(id)).catch(() => {});
      await this.blobs.delete(blobKey).catch(() => {});
      throw err;
    }
    return meta;
  }

  /** The metadata of `id` when it exists and belongs to `tenant` (`undefined` tenant: any). */
  async get(id: string, tenant?: string): Promise<Dataset | null> {
    const [owner, meta] = await this.redis.hmget(this.keys.dataset(id), 'tenant', 'meta');
    if (!meta || (tenant !== undefined && owner !== tenant)) return null;
    return JSON.parse(meta) as Dataset;
  }

  /** Newest first, `limit` per page. */
  async list(tenant: string, limit: number, after?: string): Promise<{ items: Dataset[]; next: string | null }> {
    const { ids, next } = await lexPage(this.redis, this.keys.datasetIndex(tenant), limit, after);
    const metas = ids.length ? await Promise.all(ids.map((id) => this.get(id, tenant))) : [];
    return { items: metas.filter((m): m is Dataset => m !== null), next };
  }

  /**
   * Deletes the dataset and its blob; false when it does not exist for `tenant`. The blob goes
   * first: when the blob store is down nothing changes (BlobStoreUnavailableError → 503).
   * @throws DatasetInUseError while a queued or running job uses it.
   */
  async delete(id: string, tenant: string): Promise<boolean> {
    if (!(await this.get(id, tenant))) return false;
    const users = await this.activeJobs(id);
    if (users.length) throw new DatasetInUseError(id, users);
    const blobKey = await this.redis.hget(this.keys.dataset(id), 'blob');
    if (blobKey) await this.blobs.delete(blobKey);
    // Record first (one slot: the dataset's keys share its hash tag), then the index entry. A crash
    // in between leaves an index entry without a record: listings skip it and the sweep removes
    // it. (The other order would leave a record without an index entry, which the sweep, taking
    // the record for the truth, would list again.)
    await Promise.all([this.redis.del(this.keys.dataset(id), this.keys.datasetFeatures(id), this.keys.datasetTargets(id)), this.redis.zrem(this.keys.datasetIndex(tenant), id)]);
    return true;
  }

  /**
   * The queued or running jobs that use dataset `id`. Members whose job ended (or whose record is
   * gone) are dropped on the way: a crash between a job's end and its removal from the set (two
   * steps, two slots on a cluster) must not keep the dataset in use forever.
   */
  async activeJobs(id: string): Promise<string[]> {
    const key = this.keys.datasetActiveJobs(id);
    const members = await this.redis.smembers(key);
    if (!members.length) return members;
    const statuses = await Promise.all(members.map((m) => this.redis.hget(this.keys.job(m), 'status')));
    const stale = members.filter((_, i) => statuses[i] === null || (TERMINAL_STATUSES as readonly string[]).includes(statuses[i]!));
    if (stale.length) await this.redis.srem(key, ...stale);
    return members.filter((m) => !stale.includes(m));
  }

  /**
   * Only the target values of `meta`'s dataset (a range read of its blob), or null when it is gone.
   * @throws BlobStoreUnavailableError when the blob store cannot be reached.
   */
  async loadTargets(meta: Dataset): Promise<Float32Array | Float64Array | null> {
    const blobKey = await this.redis.hget(this.keys.dataset(meta.id), 'blob');
    const Arr = meta.dtype === 'float32' ? Float32Array : Float64Array;
    if (!blobKey) {
      const b = await this.redis.getBuffer(this.keys.datasetTargets(meta.id));
      return b ? fromBuffer(b, meta.dtype) : null;
    }
    const out = new Arr(meta.rows * meta.targets);
    const offset = meta.rows * meta.features * Arr.BYTES_PER_ELEMENT;
    return (await this.blobs.getInto(blobKey, new Uint8Array(out.buffer), { offset })) ? out : null;
  }

  /**
   * Metadata and typed arrays, or null when the dataset (or its blob) is gone. The blob streams
   * straight into one preallocated buffer that `features` and `targets` view (no other copy),
   * checked against the recorded sha256.
   * @throws BlobStoreUnavailableError when the blob store cannot be reached.
   * @throws BlobIntegrityError when the blob is not what was stored.
   */
  async load(id: string): Promise<LoadedDataset | null> {
    const [owner, json, blobKey] = await this.redis.hmget(this.keys.dataset(id), 'tenant', 'meta', 'blob');
    if (!owner || !json) return null;
    const meta = JSON.parse(json) as Dataset;
    if (blobKey) {
      const width = meta.dtype === 'float32' ? 4 : 8;
      const xLen = meta.rows * meta.features;
      const yLen = meta.rows * meta.targets;
      const bytes = new Uint8Array((xLen + yLen) * width);
      if (!(await this.blobs.getInto(blobKey, bytes, { ...(meta.sha256 ? { sha256: meta.sha256 } : {}), immutable: true }))) return null;
      const Arr = meta.dtype === 'float32' ? Float32Array : Float64Array;
      return { meta, features: new Arr(bytes.buffer, 0, xLen), targets: new Arr(bytes.buffer, xLen * width, yLen) };
    }
    // Stored before blob storage: the values are still in Redis.
    const [x, y] = await Promise.all([
      this.redis.getBuffer(this.keys.datasetFeatures(id)),
      this.redis.getBuffer(this.keys.datasetTargets(id)),
    ]);
    if (!x || !y) return null;
    return { meta, features: fromBuffer(x, meta.dtype), targets: fromBuffer(y, meta.dtype) };
  }
}
