import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../src/storage/blobs/index.js';
import { keysFor } from '../../src/storage/keys.js';
import { freePort } from '../helpers/net.js';
import { startTs, stop, waitForHttp } from '../helpers/processes.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { S3rver, S3RVER_CREDENTIALS } from '../helpers/s3rver.js';
import { waitForState } from '../helpers/wait.js';

/*
 * Issue 10's "done when": a generated ≥ 100 MB CSV (Fashion-MNIST-shaped: 784 pixel columns 0–255
 * and a label) goes through `npm start` (scripts/start.ts as a real process, default limits):
 * upload, train, predict it back as CSV in one request, evaluate, delete; once with the local
 * blob store and once with S3 (s3rver). The one 100 MB-scale test of the suite: kept small
 * everywhere else (1 epoch, a 784-16-10 net).
 */

const ROWS = 38_000;
const F = 784;
const dir = mkdtempSync(join(tmpdir(), 'tsnn-bigcsv-'));
const csvPath = join(dir, 'big.csv');
let s3: S3rver;

/** Writes the CSV: pixel c < 10 is bright for label c (so a net learns it in one epoch), the rest noise. */
function writeCsv(): void {
  const cells = Array.from({ length: 256 }, (_, v) => `${v},`);
  const fd = openSync(csvPath, 'w');
  const header = Array.from({ length: F }, (_, j) => `p${j}`).join(',') + ',label\n';
  writeSync(fd, header);
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24; // 0..255
  let chunk = '';
  for (let r = 0; r < ROWS; r++) {
    const label = r % 10;
    let line = '';
    for (let j = 0; j < F; j++) line += cells[j === label ? 200 + (rand() >> 5) : j < 10 ? rand() >> 3 : rand()];
    chunk += `${line}${label}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

beforeAll(async () => {
  writeCsv();
  s3 = await S3rver.start('tsnn-bigcsv');
}, 120_000);
afterAll(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** POSTs the CSV file as a stream; resolves with status and body. */
function uploadCsv(url: string, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': statSync(csvPath).size, ...extraHeaders } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    createReadStream(csvPath).pipe(req);
  });
}

async function bucketKeys(): Promise<string[]> {
  const store = new S3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, client: { credentials: S3RVER_CREDENTIALS } });
  try {
    return ((await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((o) => o.Key!);
  } finally {
    await store.close();
  }
}

describe.each(['local', 's3'] as const)('a 100 MB CSV through npm start (%s blob store)', (kind) => {
  it('uploads, trains, predicts it back as CSV in one request, evaluates and deletes it', async () => {
    expect(statSync(csvPath).size).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    const prefix = uniquePrefix(`big${kind}`);
    const dataDir = join(dir, `blobs-${kind}`);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // Default limits and worker settings; only what isolates this run (port, keys, directories) is set.
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl(),
      KEY_PREFIX: prefix,
      QUEUE_PREFIX: `{${prefix.replace(/[:{}]/g, '')}}`,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      BLOB_CACHE_DIR: join(dir, `cache-${kind}`),
      ...(kind === 's3' ? s3.env() : { BLOB_STORE: 'local' }),
    };
    const app = startTs('scripts/start.ts', env);
    try {
      await waitForHttp(`${base}/readyz`, 60_000);
      const stages: string[] = [];
      let t0 = performance.now();
      const lap = (name: string) => {
        stages.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        t0 = performance.now();
      };
      const up = await uploadCsv(`${base}/v1/datasets?target=label&name=big`);
      lap('upload');
      expect(up.status, up.body).toBe(201);
      const ds = JSON.parse(up.body) as { id: string; rows: number; features: number; classes: number; dtype: string; bytes: number; sha256: string };
      expect(ds).toMatchObject({ rows: ROWS, features: F, classes: 10, dtype: 'float32', bytes: ROWS * (F + 1) * 4 });
      expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
      // the dataset's blob is in this deployment's folder of the store (keys.blobFolder)
      const dsFolder = `${keysFor(prefix).blobFolder}datasets/`;
      if (kind === 's3') expect((await bucketKeys()).filter((k) => k.startsWith(dsFolder))).toEqual([keysFor(prefix).datasetBlob(ds.id)]);
      else expect(readdirSync(join(dataDir, dsFolder))).toEqual([`${ds.id}.bin`]);

      const submit = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          datasetId: ds.id,
          model: { layers: [{ units: 16, activation: 'relu' }, { units: 10, activation: 'softmax' }] },
          loss: 'softmax_cross_entropy',
          optimizer: { type: 'adam', learningRate: 0.01 },
          epochs: 1,
          batchSize: 256,
          normalize: true,
          seed: 1,
        }),
      });
      expect(submit.status, await submit.clone().text()).toBe(202);
      const job = (await submit.json()) as { id: string };
      const readJob = async () => (await (await fetch(`${base}/v1/jobs/${job.id}`)).json()) as { status: string; error?: unknown };
      const done = await waitForState(`job ${job.id} to finish`, readJob, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), { timeoutMs: 120_000, intervalMs: 100 });
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      lap('train');

      // The whole file back through predict in one request, as CSV (its label column is ignored).
      const pred = await uploadCsv(`${base}/v1/jobs/${job.id}/predict`, { accept: 'text/csv' });
      if (pred.status !== 200) console.log(`${kind}: ${stages.join(', ')}`);
      expect(pred.status, pred.body.slice(0, 500)).toBe(200);
      expect(String(pred.headers['content-type'])).toMatch(/^text\/csv/);
      const lines = pred.body.trimEnd().split('\n');
      const dataLines = /^[a-z]/i.test(lines[0]) ? lines.slice(1) : lines;
      expect(dataLines).toHaveLength(ROWS);
      // prediction, then 10 class probabilities; the labels cycle 0..9, which the net learned
      const predicted = dataLines.map((l) => Number(l.split(',')[0]));
      expect(dataLines[0].split(',')).toHaveLength(11);
      const right = predicted.filter((p, r) => p === r % 10).length;
      expect(right / ROWS).toBeGreaterThan(0.9);

      lap('predict');
      const ev = await fetch(`${base}/v1/jobs/${job.id}/evaluate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId: ds.id }) });
      expect(ev.status, await ev.clone().text()).toBe(200);
      const metrics = (await ev.json()) as { rows: number; accuracy: number; confusionMatrix: number[][]; perClass: { support: number }[] };
      expect(metrics.rows).toBe(ROWS);
      expect(metrics.accuracy).toBeCloseTo(right / ROWS, 6);
      expect(metrics.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(ROWS);
      expect(metrics.perClass.map((c) => c.support)).toEqual(Array(10).fill(ROWS / 10));

      lap('evaluate');
      expect((await fetch(`${base}/v1/datasets/${ds.id}`, { method: 'DELETE' })).status).toBe(204);
      expect((await fetch(`${base}/v1/datasets/${ds.id}`)).status).toBe(404);
      if (kind === 's3') expect((await bucketKeys()).filter((k) => k.startsWith(dsFolder))).toEqual([]);
      else expect(existsSync(join(dataDir, dsFolder)) ? readdirSync(join(dataDir, dsFolder)) : []).toEqual([]);
      lap('delete');
      console.log(`${kind}: ${(statSync(csvPath).size / 2 ** 20).toFixed(0)} MiB CSV, ${stages.join(', ')}`);
    } finally {
      await stop(app, 20_000);
      await deletePrefix(prefix);
      await deletePrefix(env.QUEUE_PREFIX);
    }
  }, 300_000);
});
