import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobIntegrityError, type BlobBody, type BlobInfo, type BlobStore, type GetIntoOptions, type ListedBlob } from './blob-store.js';
import { LocalBlobStore } from './local-store.js';

/**
 * A worker-local disk cache in front of a remote store: `getInto` of an immutable blob with a
 * known sha256 is served from `<dir>/<key>.<sha256>` when present (verified on read), else
 * downloaded once, written to the cache as it streams into the caller's array, and kept (temp
 * file + rename, so concurrent trainer processes never see half a file). Least recently used
 * files go once the cache holds more than `maxBytes`. Everything else passes through.
 */
export class CachedBlobStore implements BlobStore {
  readonly kind;
  readonly location;
  /** Reads served from the cache and from the remote store, since start. */
  readonly stats = { hits: 0, misses: 0 };
  private readonly local: LocalBlobStore;

  constructor(
    readonly remote: BlobStore,
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    this.kind = remote.kind;
    this.location = remote.location;
    this.local = new LocalBlobStore(dir);
  }

  put(key: string, body: BlobBody, opts?: { signal?: AbortSignal }): Promise<BlobInfo> {
    return this.remote.put(key, body, opts);
  }
  get(key: string): Promise<Readable | null> {
    return this.remote.get(key);
  }
  head(key: string): Promise<{ size: number } | null> {
    return this.remote.head(key);
  }
  async delete(key: string): Promise<void> {
    await this.remote.delete(key);
  }
  list(prefix: string): AsyncIterable<ListedBlob> {
    return this.remote.list(prefix);
  }
  ping(): Promise<void> {
    return this.remote.ping();
  }
  close(): Promise<void> {
    return this.remote.close();
  }

  private cacheKey(key: string, sha256: string): string {
    return `${key.replaceAll('/', '__')}.${sha256}`;
  }

  async getInto(key: string, target: Uint8Array, opts: GetIntoOptions = {}): Promise<boolean> {
    const sha256 = opts.sha256;
    if (!opts.immutable || !sha256 || opts.offset !== undefined || this.maxBytes <= 0 || target.length > this.maxBytes) return this.remote.getInto(key, target, opts);
    const name = this.cacheKey(key, sha256);
    try {
      if (await this.local.getInto(name, target, { sha256 })) {
        this.stats.hits++;
        const now = new Date();
        await utimes(join(this.local.root, name), now, now).catch(() => {});
        return true;
      }
    } catch (err) {
      // A damaged cache file: drop it and download again.
      if (!(err instanceof BlobIntegrityError)) throw err;
      await rm(join(this.local.root, name), { force: true });
    }
    this.stats.misses++;
    await mkdir(this.local.root, { recursive: true });
    const tmp = join(this.local.root, `${name}.tmp-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx').catch(() => null);
    try {
      const found = await this.remote.getInto(key, target, { sha256, ...(fh ? { onChunk: (c: Uint8Array) => fh.write(c) } : {}) });
      if (found && fh) {
        await fh.close();
        await rename(tmp, join(this.local.root, name));
        await this.evict().catch(() => {});
      }
      return found;
    } finally {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
    }
  }

  /** Removes least recently used files until the cache holds at most `maxBytes`. */
  private async evict(): Promise<void> {
    const files = [];
    for (const f of await readdir(this.local.root)) {
      if (f.includes('.tmp-')) continue;
      const s = await stat(join(this.local.root, f)).catch(() => null);
      if (s?.isFile()) files.push({ f, size: s.size, used: s.mtimeMs });
    }
    let total = files.reduce((t, x) => t + x.size, 0);
    files.sort((a, b) => a.used - b.used);
    for (const x of files) {
      if (total <= this.maxBytes) break;
      await rm(join(this.local.root, x.f), { force: true });
      total -= x.size;
    }
  }
}
