import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobStoreUnavailableError, checkKey, HashingStream, readInto, toReadable, type BlobBody, type BlobInfo, type BlobStore, type GetIntoOptions, type ListedBlob } from './blob-store.js';

/** Errors of a disk that is full, read-only, gone or failing: the store is unavailable, not the request wrong. */
const UNAVAILABLE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'ENOTCONN', 'ESTALE', 'EACCES', 'EPERM', 'ENODEV', 'ENXIO']);

function wrap(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && UNAVAILABLE_CODES.has(code)) return new BlobStoreUnavailableError(`local blob store: ${what} failed (${code})`, { cause: err });
  return err;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

/**
 * Blobs as files under one directory (DATA_DIR). A put writes `<key>.tmp-<random>` and renames
 * it over `<key>` once complete and flushed, so a reader never sees half a blob and a crash
 * leaves at most a temp file (never under a blob's name).
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  readonly root: string;
  readonly location: string;

  constructor(dir: string) {
    this.root = resolve(dir);
    this.location = `file:${this.root}`;
  }

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }

  async put(key: string, body: BlobBody, opts: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    const path = this.path(key);
    const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    const hashing = new HashingStream();
    try {
      await mkdir(dirname(path), { recursive: true });
      const out = createWriteStream(tmp, { flags: 'wx' });
      await pipeline(toReadable(body), hashing, out, ...(opts.signal ? [{ signal: opts.signal }] : []));
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw wrap(err, `writing '${key}'`);
    }
    return { key, size: hashing.bytes, sha256: hashing.digest() };
  }

  async get(key: string): Promise<Readable | null> {
    const path = this.path(key);
    try {
      const fh = await open(path, 'r');
      return createReadStream('', { fd: fh, highWaterMark: 1 << 20 });
    } catch (err) {
      if (isMissing(err)) return null;
      throw wrap(err, `reading '${key}'`);
    }
  }

  async getInto(key: string, target: Uint8Array, opts: GetIntoOptions = {}): Promise<boolean> {
    const path = this.path(key);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isMissing(err)) return false;
      throw wrap(err, `reading '${key}'`);
    }
    try {
      // Straight from the file into the caller's array: read() fills it, no chunk buffers.
      const base = opts.offset ?? 0;
      const size = opts.offset === undefined ? (await fh.stat()).size : Math.min(target.length, Math.max(0, (await fh.stat()).size - base));
      const chunks = async function* () {
        let at = 0;
        while (at < size) {
          const n = Math.min(8 << 20, size - at, Math.max(0, target.length - at));
          if (n === 0) {
            // longer than the target: let readInto report it
            yield new Uint8Array(size - at);
            return;
          }
          const { bytesRead } = await fh.read(target, at, n, base + at);
          if (bytesRead === 0) return;
          yield target.subarray(at, at + bytesRead);
          at += bytesRead;
        }
      };
      // readInto copies each chunk onto itself (same memory): a no-op copy, one hashing pass.
      await readInto(key, chunks(), target, opts.offset === undefined ? opts.sha256 : undefined, opts.onChunk);
      return true;
    } catch (err) {
      throw wrap(err, `reading '${key}'`);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<{ size: number } | null> {
    try {
      return { size: (await stat(this.path(key))).size };
    } catch (err) {
      if (isMissing(err)) return null;
      throw wrap(err, `stat of '${key}'`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true });
    } catch (err) {
      throw wrap(err, `deleting '${key}'`);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedBlob> {
    // Walk from the deepest folder `prefix` names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const start = join(this.root, prefix.slice(0, slash + 1));
    const walk = async function* (dir: string): AsyncGenerator<string> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) yield* walk(p);
        else if (e.isFile()) yield p;
      }
    };
    try {
      for await (const path of walk(start)) {
        const key = relative(this.root, path).split(sep).join('/');
        if (!key.startsWith(prefix)) continue;
        const s = await stat(path).catch(() => null);
        if (s) yield { key, size: s.size, modifiedAt: s.mtimeMs };
      }
    } catch (err) {
      throw wrap(err, `listing '${prefix}'`);
    }
  }

  async ping(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK | constants.R_OK);
    } catch (err) {
      const w = wrap(err, 'checking the directory');
      throw w instanceof BlobStoreUnavailableError ? w : new BlobStoreUnavailableError(`local blob store ${this.root}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {}
}
