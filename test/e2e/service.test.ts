import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moons, toCsv } from '../helpers/data.js';
import { startService, type ServiceProcs } from '../helpers/processes.js';
import { readSse } from '../helpers/sse-client.js';

let base = '';
let service: ServiceProcs | undefined;
const rows = moons(600);
const csv = toCsv(['x', 'y', 'label'], rows);

beforeAll(async () => {
  service = await startService('e2e');
  base = service.base;
});

afterAll(async () => service?.stop());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function post(path: string, body: string | FormData, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

describe('API and worker as separate processes over real Redis', () => {
  const ids: string[] = [];

  it('accepts the same CSV as text/csv, multipart and JSON, with identical metadata', async () => {
    const a = await post('/v1/datasets?name=csv&target=label', csv, { 'content-type': 'text/csv' });
    const fd = new FormData();
    fd.append('name', 'mp');
    fd.append('target', 'label');
    fd.append('file', new Blob([csv], { type: 'text/csv' }), 'moons.csv');
    const b = await post('/v1/datasets', fd);
    const c = await post('/v1/datasets', JSON.stringify({ name: 'json', features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) }), { 'content-type': 'application/json' });
    for (const r of [a, b, c]) {
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ rows: 600, features: 2, targets: 1, targetKind: 'integer', classes: 2, bytes: 600 * 3 * 8 });
      ids.push(r.json.id);
    }
    expect(new Set(ids).size).toBe(3);
  });

  it('trains a job; SSE ids increase, a mid-run reconnect with Last-Event-ID misses and repeats nothing, the stream ends with completed', async () => {
    const spec = {
      datasetId: ids[0],
      model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }], init: 'xavier_normal' },
      loss: 'softmax_cross_entropy',
      optimizer: { type: 'adam', learningRate: 0.005 },
      epochs: 3000,
      batchSize: 4,
      normalize: true,
      validationSplit: 0.2,
      seed: 1,
    };
    const sub = await post('/v1/jobs', JSON.stringify(spec), { 'content-type': 'application/json' });
    expect(sub.status).toBe(202);
    const id = sub.json.id as string;
    expect(sub.headers.get('location')).toBe(`/v1/jobs/${id}`);

    // First connection: hang up after a few progress events, while the job is still running.
    const first = await readSse(`${base}/v1/jobs/${id}/events`, { stopAfter: 6 });
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/event-stream/);
    expect(first.raw.startsWith('retry: ')).toBe(true);
    expect(first.closedByServer).toBe(false);
    expect(first.events.some((e) => ['completed', 'failed', 'cancelled'].includes(e.event!))).toBe(false);
    const midRun = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as Json;
    expect(midRun.status).toBe('running');

    // Reconnect like EventSource does, with the last id seen; curl-style Accept: */* gets the stream too.
    const rest = await readSse(`${base}/v1/jobs/${id}/events`, { lastEventId: first.events.at(-1)!.id, accept: '*/*' });
    expect(rest.closedByServer).toBe(true);
    const all = [...first.events, ...rest.events];
    const nums = all.map((e) => Number(e.id));
    // One integer sequence per job: consecutive from 1, so nothing was missed and nothing repeated.
    expect(nums).toEqual(nums.map((_, i) => i + 1));
    expect(all[0]).toMatchObject({ event: 'status', data: '{"status":"queued"}' });
    expect(all[1].event).toBe('status');
    expect(all.at(-1)!.event).toBe('completed');
    expect(all.filter((e) => e.event === 'completed')).toHaveLength(1);
    const done = JSON.parse(all.at(-1)!.data);
    expect(done).toMatchObject({ id, status: 'completed', attempts: 1 });

    const epochs = all.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data)).filter((p) => p.kind === 'epoch');
    expect(epochs.length).toBeGreaterThan(2);
    for (let i = 1; i < epochs.length; i++) expect(epochs[i].epoch).toBeGreaterThan(epochs[i - 1].epoch);
    expect(epochs.at(-1).epoch).toBe(2999);
    expect(epochs.at(-1).loss).toBeLessThan(epochs[0].loss / 2);
    expect(typeof epochs.at(-1).valLoss).toBe('number');

    // A late client replays the whole history and the server closes.
    const replay = await readSse(`${base}/v1/jobs/${id}/events`);
    expect(replay.closedByServer).toBe(true);
    expect(replay.events.map((e) => e.id)).toEqual(all.map((e) => e.id));

    const model = (await (await fetch(`${base}/v1/jobs/${id}/model`)).json()) as Json;
    expect(model.weightsHash).toBe(done.result.weightsHash);
    const pred = await post(`/v1/jobs/${id}/predict`, JSON.stringify({ features: rows.map((r) => r.slice(0, 2)) }), { 'content-type': 'application/json' });
    const acc = (pred.json.predictions as number[]).filter((p, i) => p === rows[i][2]).length / rows.length;
    expect(acc).toBeGreaterThan(0.95);
    // 3000 epochs so a reconnect lands mid-run: ~15 s on an idle 2-core machine, a minute when it is shared
  }, 180_000);

  it('works with an EventSource client: named events, lastEventId, the terminal event', async () => {
    const sub = await post('/v1/jobs', JSON.stringify({ datasetId: ids[1], model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'adam', learningRate: 0.01 }, epochs: 20, batchSize: 32 }), { 'content-type': 'application/json' });
    const es = new EventSource(`${base}/v1/jobs/${sub.json.id}/events`);
    const seen: string[] = [];
    const done = await new Promise<{ id: string; status: string }>((resolveDone, reject) => {
      const t = setTimeout(() => reject(new Error(`no terminal event; saw ${seen.join(',')}`)), 30_000);
      es.addEventListener('status', (e) => seen.push(`${e.lastEventId}:status`));
      es.addEventListener('progress', (e) => seen.push(`${e.lastEventId}:progress`));
      es.addEventListener('completed', (e) => {
        clearTimeout(t);
        seen.push(`${e.lastEventId}:completed`);
        resolveDone(JSON.parse(e.data));
      });
    });
    es.close();
    expect(done).toMatchObject({ id: sub.json.id, status: 'completed' });
    expect(seen[0]).toBe('1:status');
    expect(seen.map((s) => Number(s.split(':')[0]))).toEqual(seen.map((_, i) => i + 1));
  });
});
