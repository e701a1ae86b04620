import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobIntegrityError, CachedBlobStore, LocalBlobStore, S3BlobStore, type BlobStore } from '../../src/storage/blobs/index.js';
import { S3rver, S3RVER_CREDENTIALS } from '../helpers/s3rver.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

let s3: S3rver;
let dir: string;
beforeAll(async () => {
  s3 = await S3rver.start();
  dir = await mkdtemp(join(tmpdir(), 'tsnn-blobs-'));
});
afterAll(async () => {
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const s3Store = (partSize?: number) =>
  new S3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, client: { credentials: S3RVER_CREDENTIALS }, ...(partSize ? { partSize } : {}) });

/** The object keys in the bucket, straight from the server. */
async function listBucket(): Promise<string[]> {
  const store = s3Store();
  try {
    const res = await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    return (res.Contents ?? []).map((o) => o.Key!);
  } finally {
    await store.close();
  }
}

/** A body that yields `good` bytes, then fails as a cut client connection does. */
function failingBody(good: Uint8Array): Readable {
  return Readable.from(
    (async function* () {
      yield good;
      await new Promise((r) => setTimeout(r, 20)); // the point: the cut comes after the first chunk was taken
      throw new Error('client connection cut');
    })(),
  );
}

describe.each([
  ['local', () => new LocalBlobStore(join(dir, 'store'))],
  ['s3 (s3rver)', () => s3Store(5 * 1024 * 1024)],
] as const)('BlobStore contract: %s', (_name, make) => {
  let store: BlobStore;
  beforeAll(() => {
    store = make();
  });
  afterAll(async () => store.close());

  it('put (bytes, chunks, stream) returns size and sha256; get, getInto and head read it back', async () => {
    const bytes = randomBytes(300_000);
    expect(await store.put('c/one.bin', bytes)).toEqual({ key: 'c/one.bin', size: bytes.length, sha256: sha(bytes) });
    expect(await store.put('c/two.bin', [bytes.subarray(0, 1000), bytes.subarray(1000)])).toMatchObject({ size: bytes.length, sha256: sha(bytes) });
    expect(await store.put('c/three.bin', Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]))).toMatchObject({ sha256: sha(bytes) });
    for (const k of ['c/one.bin', 'c/two.bin', 'c/three.bin']) {
      expect(await store.head(k)).toEqual({ size: bytes.length });
      expect((await text((await store.get(k))!)).equals(bytes)).toBe(true);
      const target = new Uint8Array(bytes.length);
      expect(await store.getInto(k, target, { sha256: sha(bytes) })).toBe(true);
      expect(Buffer.from(target).equals(bytes)).toBe(true);
    }
  });

  it('a multipart-sized blob (12 MiB, 3 parts on S3) round-trips', async () => {
    const bytes = randomBytes(12 * 1024 * 1024);
    const info = await store.put('c/big.bin', Readable.from([bytes]));
    expect(info).toMatchObject({ size: bytes.length, sha256: sha(bytes) });
    const target = new Uint8Array(bytes.length);
    expect(await store.getInto('c/big.bin', target, { sha256: info.sha256 })).toBe(true);
    expect(sha(target)).toBe(info.sha256);
    await store.delete('c/big.bin');
  });

  it('a missing blob: get null, getInto false, head null, delete no error', async () => {
    expect(await store.get('c/none.bin')).toBeNull();
    expect(await store.getInto('c/none.bin', new Uint8Array(4))).toBe(false);
    expect(await store.head('c/none.bin')).toBeNull();
    await store.delete('c/none.bin');
  });

  it('delete removes; put replaces', async () => {
    await store.put('c/del.bin', Buffer.from('abc'));
    await store.put('c/del.bin', Buffer.from('abcd'));
    expect(await store.head('c/del.bin')).toEqual({ size: 4 });
    await store.delete('c/del.bin');
    expect(await store.head('c/del.bin')).toBeNull();
  });

  it('getInto refuses a wrong sha256, a shorter and a longer blob', async () => {
    const bytes = randomBytes(1000);
    await store.put('c/check.bin', bytes);
    await expect(store.getInto('c/check.bin', new Uint8Array(1000), { sha256: sha(Buffer.from('x')) })).rejects.toThrow(BlobIntegrityError);
    await expect(store.getInto('c/check.bin', new Uint8Array(1001))).rejects.toThrow(/truncated/);
    await expect(store.getInto('c/check.bin', new Uint8Array(999))).rejects.toThrow(/longer than/);
  });

  it('a put whose body fails half-way throws and leaves no blob (not even a partial one)', async () => {
    await expect(store.put('c/cut.bin', failingBody(randomBytes(6 * 1024 * 1024)))).rejects.toThrow(/client connection cut/);
    expect(await store.head('c/cut.bin')).toBeNull();
  });

  it('refuses keys that could leave its namespace', async () => {
    await expect(store.put('../x', Buffer.from('a'))).rejects.toThrow(/invalid blob key/);
    await expect(store.put('/abs', Buffer.from('a'))).rejects.toThrow(/invalid blob key/);
  });
});

describe('local store specifics', () => {
  it('a failed put leaves no temp file; blobs are plain files under DATA_DIR', async () => {
    const store = new LocalBlobStore(join(dir, 'tmpcheck'));
    await store.put('d/a.bin', Buffer.from('abc'));
    await expect(store.put('d/b.bin', failingBody(randomBytes(1000)))).rejects.toThrow();
    expect(readdirSync(join(dir, 'tmpcheck', 'd'))).toEqual(['a.bin']);
  });
});

describe('S3 store specifics', () => {
  it('an aborted multipart upload leaves no object in the bucket', async () => {
    const store = s3Store(5 * 1024 * 1024);
    await expect(store.put('s/cut.bin', failingBody(randomBytes(11 * 1024 * 1024)))).rejects.toThrow(/client connection cut/);
    expect((await listBucket()).filter((k) => k.startsWith('s/'))).toEqual([]);
    await store.close();
  });
});

describe('worker disk cache in front of S3', () => {
  it('the second read of an immutable blob is served from disk: no GetObject reaches the server', async () => {
    const remote = s3Store();
    const cache = new CachedBlobStore(remote, join(dir, 'cache'), 1 << 30);
    const bytes = randomBytes(2 * 1024 * 1024);
    const { sha256 } = await cache.put('k/ds.bin', bytes);
    const gets0 = s3.getObjectCount();
    const a = new Uint8Array(bytes.length);
    expect(await cache.getInto('k/ds.bin', a, { sha256, immutable: true })).toBe(true);
    expect(s3.getObjectCount()).toBe(gets0 + 1);
    const b = new Uint8Array(bytes.length);
    expect(await cache.getInto('k/ds.bin', b, { sha256, immutable: true })).toBe(true);
    expect(s3.getObjectCount()).toBe(gets0 + 1);
    expect(Buffer.from(b).equals(bytes)).toBe(true);
    expect(cache.stats).toEqual({ hits: 1, misses: 1 });
    // a damaged cache file is detected by its sha256, dropped and fetched again
    const file = readdirSync(join(dir, 'cache')).find((f) => f.endsWith(sha256))!;
    await new LocalBlobStore(join(dir, 'cache')).put(file, randomBytes(bytes.length));
    expect(await cache.getInto('k/ds.bin', b, { sha256, immutable: true })).toBe(true);
    expect(Buffer.from(b).equals(bytes)).toBe(true);
    expect(s3.getObjectCount()).toBe(gets0 + 2);
    await cache.close();
  });

  it('evicts the least recently used files beyond its size', async () => {
    const remote = s3Store();
    const cdir = join(dir, 'cache-small');
    const cache = new CachedBlobStore(remote, cdir, 2500);
    for (const k of ['e/1', 'e/2', 'e/3']) {
      const bytes = randomBytes(1000);
      const { sha256 } = await cache.put(k, bytes);
      await cache.getInto(k, new Uint8Array(1000), { sha256, immutable: true });
      await new Promise((r) => setTimeout(r, 20)); // the point: each entry is used at a distinct time (the eviction order)
    }
    expect(readdirSync(cdir).map((f) => f.split('.')[0]).sort()).toEqual(['e__2', 'e__3']);
    await cache.close();
  });
});

describe('blob store settings', () => {
  it('BLOB_STORE=s3 needs S3_BUCKET; S3_BUCKET alone selects s3; booleans read false as false', async () => {
    const { loadConfig, blobStoreKind } = await import('../../src/config.js');
    expect(() => loadConfig({ BLOB_STORE: 's3' })).toThrow(/S3_BUCKET: required when BLOB_STORE=s3/);
    expect(blobStoreKind(loadConfig({}))).toBe('local');
    expect(loadConfig({}).DATA_DIR).toBe('.data/blobs');
    const s3c = loadConfig({ S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'false' });
    expect(blobStoreKind(s3c)).toBe('s3');
    expect(s3c.S3_FORCE_PATH_STYLE).toBe(false);
    expect(loadConfig({ S3_FORCE_PATH_STYLE: 'true' }).S3_FORCE_PATH_STYLE).toBe(true);
    expect(blobStoreKind(loadConfig({ S3_BUCKET: 'b', BLOB_STORE: 'local' }))).toBe('local');
    expect(() => loadConfig({ S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(/S3_FORCE_PATH_STYLE/);
  });
});
