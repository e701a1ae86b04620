import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { blobStoreKind, type BlobConfig } from '../../config.js';
import type { BlobStore } from './blob-store.js';
import { CachedBlobStore } from './cached-store.js';
import { LocalBlobStore } from './local-store.js';
import { S3BlobStore } from './s3-store.js';

export * from './blob-store.js';
export { CachedBlobStore } from './cached-store.js';
export { LocalBlobStore } from './local-store.js';
export { S3BlobStore, isS3Unavailable } from './s3-store.js';

/**
 * The blob store `config` selects (see {@link blobStoreKind}). With `cache` (the worker), an
 * `s3` store reads immutable blobs through the local disk cache BLOB_CACHE_DIR.
 */
export function createBlobStore(config: BlobConfig, opts: { cache?: boolean; s3Client?: Partial<S3ClientConfig> } = {}): BlobStore {
  if (blobStoreKind(config) === 'local') return new LocalBlobStore(config.DATA_DIR);
  const s3 = new S3BlobStore({
    bucket: config.S3_BUCKET!,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    ...(opts.s3Client ? { client: opts.s3Client } : {}),
  });
  return opts.cache && config.BLOB_CACHE_MAX_BYTES > 0 ? new CachedBlobStore(s3, config.BLOB_CACHE_DIR, config.BLOB_CACHE_MAX_BYTES) : s3;
}
