import type * as ClientS3 from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobStoreUnavailableError, checkKey, HashingStream, readInto, toReadable, type BlobBody, type BlobInfo, type BlobStore, type GetIntoOptions, type ListedBlob } from './blob-store.js';

/**
 * The AWS SDK, loaded the first time an S3 store is made: a process on the local store (the
 * default) never loads it (~21 MB of RSS, measured with `require` in a bare Node 20 process).
 */
let loaded: { s3: typeof ClientS3; storage: typeof LibStorage } | undefined;
function sdk(): { s3: typeof ClientS3; storage: typeof LibStorage } {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    loaded = { s3: require('@aws-sdk/client-s3') as typeof ClientS3, storage: require('@aws-sdk/lib-storage') as typeof LibStorage };
  }
  return loaded;
}

/** Settings of {@link S3BlobStore}; `client` adds to (and wins over) the SDK client options. */
export interface S3BlobStoreOptions {
  bucket: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Extra SDK client options (tests pass credentials here; the service uses the default chain). */
  client?: Partial<S3ClientConfig>;
  /** Multipart part size in bytes. Default 8 MiB (S3's minimum is 5 MiB). */
  partSize?: number;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
const RETRYABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'ThrottlingException', 'AbortError']);

/** True when `err` says the S3 service is unreachable or failing (network, timeout, 5xx), not that the request is wrong. */
export function isS3Unavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof BlobStoreUnavailableError) return true;
  const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown };
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (RETRYABLE_NAMES.has(e.name)) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  if (/socket hang up|ECONNREFUSED|ECONNRESET|premature close|aborted|other side closed|connect ETIMEDOUT/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isS3Unavailable(e.cause);
}

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * Blobs in an S3 (or S3-compatible: MinIO, s3rver) bucket. Puts go through lib-storage's
 * multipart `Upload` (one PutObject when small); a failed one is aborted (its parts dropped).
 * S3 shows an object only once it is complete, so no half blob is ever visible.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.location = `s3://${opts.bucket}${opts.endpoint ? ` at ${opts.endpoint}` : ''}`;
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    this.client = new (sdk().s3.S3Client)({
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      // Our own sha256 covers integrity; the SDK's default CRC trailers are not understood by every S3-compatible server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      // Fail fast when the service is down; a stalled transfer errors after 30 s of silence.
      requestHandler: { connectionTimeout: 3000, socketTimeout: 30_000 },
      ...opts.client,
    });
  }

  private wrap(err: unknown, what: string): unknown {
    if (err instanceof BlobStoreUnavailableError) return err;
    if (isS3Unavailable(err)) return new BlobStoreUnavailableError(`S3 blob store ${this.location}: ${what} failed (${(err as Error).name}: ${(err as Error).message})`, { cause: err });
    return err;
  }

  async put(key: string, body: BlobBody, opts: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    checkKey(key);
    const hashing = new HashingStream();
    const source = toReadable(body);
    // Pipe errors (a cut client upload) reach `hashing` and so fail the Upload, which aborts the multipart upload.
    const piped = pipeline(source, hashing).catch((err: unknown) => err);
    const upload = new (sdk().storage.Upload)({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: hashing, ContentType: 'application/octet-stream' },
      partSize: this.partSize,
      queueSize: 2,
      // We abort the multipart upload ourselves (below) so that its own error, not the abort's, is reported.
      leavePartsOnError: true,
    });
    const onAbort = () => void upload.abort().catch(() => {});
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
      const pipeErr = await piped;
      if (pipeErr) throw pipeErr;
    } catch (err) {
      source.destroy();
      hashing.destroy();
      const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
      if (uploadId) await this.client.send(new (sdk().s3.AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => {});
      // A complete object may exist when only the final answer was lost: remove it (best effort).
      await this.client.send(new (sdk().s3.DeleteObjectCommand)({ Bucket: this.bucket, Key: key })).catch(() => {});
      throw this.wrap(err, `uploading '${key}'`);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return { key, size: hashing.bytes, sha256: hashing.digest() };
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Readable | null> {
    checkKey(key);
    try {
      const Range = range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined;
      const res = await this.client.send(new (sdk().s3.GetObjectCommand)({ Bucket: this.bucket, Key: key, ...(Range ? { Range } : {}) }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.wrap(err, `reading '${key}'`);
    }
  }

  async getInto(key: string, target: Uint8Array, opts: GetIntoOptions = {}): Promise<boolean> {
    if (opts.offset !== undefined && target.length === 0) return (await this.head(key)) !== null;
    const body = await this.get(key, opts.offset === undefined ? undefined : { offset: opts.offset, length: target.length });
    if (!body) return false;
    try {
      await readInto(key, body, target, opts.offset === undefined ? opts.sha256 : undefined, opts.onChunk);
      return true;
    } catch (err) {
      body.destroy();
      throw this.wrap(err, `reading '${key}'`);
    }
  }

  async head(key: string): Promise<{ size: number } | null> {
    checkKey(key);
    try {
      const res = await this.client.send(new (sdk().s3.HeadObjectCommand)({ Bucket: this.bucket, Key: key }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.wrap(err, `head of '${key}'`);
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new (sdk().s3.DeleteObjectCommand)({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.wrap(err, `deleting '${key}'`);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedBlob> {
    let token: string | undefined;
    do {
      let res;
      try {
        res = await this.client.send(new (sdk().s3.ListObjectsV2Command)({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (err) {
        throw this.wrap(err, `listing '${prefix}'`);
      }
      for (const o of res.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 };
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new (sdk().s3.HeadBucketCommand)({ Bucket: this.bucket }));
    } catch (err) {
      const w = this.wrap(err, 'HeadBucket');
      throw w instanceof BlobStoreUnavailableError ? w : new BlobStoreUnavailableError(`S3 blob store ${this.location}: HeadBucket failed (${(err as Error).name}: ${(err as Error).message})`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
