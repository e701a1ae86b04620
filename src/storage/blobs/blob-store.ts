import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';

/** What a stored blob is: its key, size in bytes and sha256 (hex). */
export interface BlobInfo {
  key: string;
  size: number;
  sha256: string;
}

/** One entry of {@link BlobStore.list}. */
export interface ListedBlob {
  key: string;
  size: number;
  /** Last write, ms since the epoch. */
  modifiedAt: number;
}

/** A blob's body to store: bytes, a list of byte chunks written in order, or a stream. */
export type BlobBody = Uint8Array | readonly Uint8Array[] | Readable | AsyncIterable<Uint8Array>;

/** Options of {@link BlobStore.getInto}. */
export interface GetIntoOptions {
  /** Expected sha256 (hex) of the whole blob: a mismatch throws {@link BlobIntegrityError}. Not with `offset`. */
  sha256?: string;
  /** Read `target.length` bytes from this byte offset (a range read) instead of the whole blob. */
  offset?: number;
  /** Cache hint: a blob that never changes under this key (datasets are immutable) may be served from a local copy. */
  immutable?: boolean;
  /** Called (and awaited) with each chunk once it is in `target`: the cache tees downloads to disk with it. */
  onChunk?: (chunk: Uint8Array) => unknown;
}

/**
 * Immutable blobs by key: datasets and models. A `put` is all or nothing (a failed or aborted one
 * leaves no blob visible under the key) and returns the sha256 computed while writing.
 */
export interface BlobStore {
  /** `local` or `s3`. */
  readonly kind: 'local' | 's3';
  /** Where the blobs are, for logs: `file:/abs/dir` or `s3://bucket`. */
  readonly location: string;
  /** Stores `body` under `key` (replacing what was there) and returns its size and sha256. */
  put(key: string, body: BlobBody, opts?: { signal?: AbortSignal }): Promise<BlobInfo>;
  /** The blob as a stream, or null when there is none. */
  get(key: string): Promise<Readable | null>;
  /**
   * Reads the whole blob into `target` (exactly its size), or with `offset` the `target.length`
   * bytes from there, with no intermediate buffer; false when there is no blob.
   * @throws BlobIntegrityError when the size or the sha256 differs.
   */
  getInto(key: string, target: Uint8Array, opts?: GetIntoOptions): Promise<boolean>;
  /** Size of the blob, or null when there is none. */
  head(key: string): Promise<{ size: number } | null>;
  /** Removes the blob; no error when there is none. */
  delete(key: string): Promise<void>;
  /**
   * Every blob whose key starts with `prefix` (a folder such as `jobs/`), in no particular order,
   * with its size and last write time. The local store also lists temp files a crashed write
   * left (`<key>.tmp-<random>`): the orphan sweep removes those too.
   */
  list(prefix: string): AsyncIterable<ListedBlob>;
  /** A cheap check that the store answers (S3: HeadBucket; local: the directory is writable). */
  ping(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * The blob store cannot be reached (S3 down, disk full or gone). The API answers 503 with
 * Retry-After; a worker puts the job back to run later instead of failing it.
 */
export class BlobStoreUnavailableError extends Error {
  override name = 'BlobStoreUnavailableError';
  readonly statusCode = 503;
  readonly code = 'blob_store_unavailable';
  /** Seconds a client should wait before retrying. */
  readonly retryAfterSeconds = 5;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A blob whose size or sha256 is not what its metadata says (truncated download, corruption). */
export class BlobIntegrityError extends Error {
  override name = 'BlobIntegrityError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`blob '${key}': ${message}`);
  }
}

/** Keys are relative paths of safe characters: `datasets/ds_abc.bin`. */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._\-/]{0,500}$/.test(key) || key.includes('..') || key.includes('//') || key.endsWith('/'))
    throw new Error(`invalid blob key '${key}'`);
  return key;
}

/** A pass-through stream that hashes (sha256) and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  /** Bytes so far (not `size`: lib-storage reads a body's `size` as its length). */
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  /** The hex digest; call once, after the stream ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** `body` as a Readable. */
export function toReadable(body: BlobBody): Readable {
  if (body instanceof Readable) return body;
  if (body instanceof Uint8Array) return Readable.from([body], { objectMode: false });
  if (Array.isArray(body)) return Readable.from(body as Uint8Array[], { objectMode: false });
  return Readable.from(body as AsyncIterable<Uint8Array>, { objectMode: false });
}

/**
 * Copies `source` into `target` (which must be exactly the blob's size), hashing as it goes.
 * @throws BlobIntegrityError on a size or sha256 mismatch (the stream's own errors pass through).
 */
export async function readInto(key: string, source: AsyncIterable<Uint8Array>, target: Uint8Array, sha256?: string, onChunk?: (c: Uint8Array) => unknown): Promise<void> {
  const hash = sha256 ? createHash('sha256') : null;
  let at = 0;
  for await (const chunk of source) {
    if (at + chunk.length > target.length) throw new BlobIntegrityError(key, `longer than the expected ${target.length} bytes`);
    // a chunk read straight into place (local files) needs no copy
    if (chunk.buffer !== target.buffer || chunk.byteOffset !== target.byteOffset + at) target.set(chunk, at);
    at += chunk.length;
    hash?.update(chunk);
    await onChunk?.(chunk);
  }
  if (at !== target.length) throw new BlobIntegrityError(key, `${at} bytes read, ${target.length} expected (truncated)`);
  if (hash && sha256) {
    const got = hash.digest('hex');
    if (got !== sha256) throw new BlobIntegrityError(key, `sha256 ${got} differs from the recorded ${sha256}`);
  }
}
