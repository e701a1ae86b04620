import { randomBytes } from 'node:crypto';
import type { BlobStore } from './blobs/blob-store.js';
import { BlobIntegrityError } from './blobs/blob-store.js';

/**
 * Models and checkpoints of jobs in the blob store (docs/storage.md): the bytes go to an
 * attempt-unique key under `jobs/<job id>/` FIRST, then the pointer (key, size, sha256) is
 * committed to Redis in the same fenced script or transaction as before. A write that loses the
 * race (fenced) deletes its blob; one that dies in between leaves an unreferenced blob that the
 * orphan sweep (blob-sweep.ts) removes.
 */

/**
 * Artifacts up to this many bytes stay inline in Redis (one round trip, no blob to clean up):
 * the measurement in docs/storage.md puts the break-even well above the small nets' few KiB.
 */
export const DEFAULT_INLINE_MAX_BYTES = 64 * 1024;

/** Where an artifact's bytes are, as Redis stores it (JSON). */
export interface BlobPointer {
  blob: string;
  sha256: string;
  bytes: number;
}

/** A new attempt-unique key for an artifact of a job, in the job's blob folder (`Keys.jobBlobs(id)`): `<folder><kind>-a<attempt>-<random>.bin`. */
export function newJobBlobKey(folder: string, kind: 'model' | 'ckpt' | `kept-${number}`, attempt: number | string): string {
  return `${folder}${kind}-a${attempt}-${randomBytes(6).toString('hex')}.bin`;
}

/** Stores `bytes` under `key`; returns the pointer to commit. */
export async function putArtifact(blobs: BlobStore, key: string, bytes: Uint8Array): Promise<BlobPointer> {
  const info = await blobs.put(key, bytes);
  return { blob: key, sha256: info.sha256, bytes: info.size };
}

/**
 * The bytes `p` points at, checked against its size and sha256.
 * @throws BlobIntegrityError when the blob is missing or damaged; BlobStoreUnavailableError when the store is down.
 */
export async function readArtifact(blobs: BlobStore, p: BlobPointer): Promise<Buffer> {
  const out = Buffer.allocUnsafe(p.bytes);
  if (!(await blobs.getInto(p.blob, out, { sha256: p.sha256 }))) throw new BlobIntegrityError(p.blob, 'missing');
  return out;
}

/** Deletes blobs, best effort (the orphan sweep removes what is left). */
export async function deleteBlobs(blobs: BlobStore | undefined, keys: (string | null | undefined)[]): Promise<void> {
  if (!blobs) return;
  await Promise.all(keys.filter((k): k is string => !!k).map((k) => blobs.delete(k).catch(() => {})));
}
