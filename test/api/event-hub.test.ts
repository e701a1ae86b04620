import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub } from '../../src/api/event-hub.js';
import type { StoredEvent } from '../../src/storage/event-stream.js';
import { testApp } from '../helpers/app.js';
import { moonsSpec } from '../helpers/data.js';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { parseSse } from '../helpers/sse.js';
import { openSse, type SseStream } from '../helpers/sse-client.js';
import { sleep, waitFor, waitForState } from '../helpers/wait.js';

/** Connections in `CLIENT LIST` with exactly this name. */
async function connectionsNamed(redis: Redis, name: string): Promise<number> {
  const list = (await redis.client('LIST')) as string;
  return list.split('\n').filter((l) => l.includes(` name=${name} `)).length;
}

/** Seeded Park–Miller generator, so a failing interleaving can be replayed. */
function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('EventHub (one blocking connection, many followers)', () => {
  const prefix = uniquePrefix('hub');
  const redis = new Redis(redisUrl());
  afterAll(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });

  it('followers joining at random points with random cursors each get every later event once, in order', async () => {
    const name = `t-hub-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
    const hub = new EventHub(redis, { connectionName: name, count: 7 }); // small pages exercise paginated replays
    const stream = `${prefix}s1`;
    const rnd = rng(11);
    const N = 400;
    const followers: { after: number; got: number[]; f: ReturnType<EventHub['follow']> }[] = [];
    try {
      for (let i = 1; i <= N; i++) {
        await redis.xadd(stream, `${i}-0`, 'type', 'progress', 'data', `{"i":${i}}`);
        if (rnd() < 0.5) {
          const after = Math.floor(rnd() * (i + 1));
          const got: number[] = [];
          followers.push({ after, got, f: hub.follow(stream, after, (e) => got.push(e.id)) });
        }
        if (rnd() < 0.3) await tick();
      }
      await Promise.all(followers.map((x) => x.f.ready));
      await waitForState(`every follower at cursor ${N}`, () => followers.filter((x) => x.f.cursor < N).map((x) => ({ after: x.after, cursor: x.f.cursor })), (behind) => behind.length === 0, { timeoutMs: 10_000, intervalMs: 20 });
      expect(followers.length).toBeGreaterThan(150);
      for (const x of followers) expect(x.got).toEqual(Array.from({ length: N - x.after }, (_, k) => x.after + 1 + k));
      expect(hub.followerCount).toBe(followers.length);
      expect(hub.streamCount).toBe(1);
      expect(await connectionsNamed(redis, name)).toBe(1);
    } finally {
      for (const x of followers) x.f.close();
      await hub.close();
    }
    expect(hub.followerCount).toBe(0);
  });

  it('a paused follower skips nothing: resume delivers what arrived meanwhile, then live, once each', async () => {
    const hub = new EventHub(redis, { connectionName: `t-hub-${process.pid}-p`, count: 5 });
    const stream = `${prefix}p1`;
    const got: number[] = [];
    const f = hub.follow(stream, 0, (e) => {
      got.push(e.id);
      if (e.id % 7 === 0) f.pause(); // pause from inside a delivery, as the route does
    });
    try {
      await f.ready;
      for (let i = 1; i <= 60; i++) {
        await redis.xadd(stream, `${i}-0`, 'type', 'progress', 'data', '{}');
        if (f.paused && i % 3 === 0) await f.resume();
      }
      const resumed = async () => {
        if (f.paused) await f.resume();
        return f.cursor;
      };
      await waitForState('the paused follower at cursor 60', resumed, (cursor) => cursor >= 60, { timeoutMs: 10_000, intervalMs: 10 });
      expect(got).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
    } finally {
      f.close();
      await hub.close();
    }
  });

  it('follows several streams on its one connection and takes in streams added while it blocks', async () => {
    const name = `t-hub-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
    const hub = new EventHub(redis, { connectionName: name, blockMs: 60_000 }); // only an interrupt can add a stream in time
    const got = new Map<string, number[]>();
    const fs: ReturnType<EventHub['follow']>[] = [];
    try {
      for (let k = 0; k < 5; k++) {
        const stream = `${prefix}m${k}`;
        got.set(stream, []);
        const f = hub.follow(stream, 0, (e: StoredEvent) => got.get(stream)!.push(e.id));
        fs.push(f);
        await f.ready;
        await sleep(10); // the point: let the loop block before the next stream joins (it must be interrupted)
        for (let j = 0; j <= k; j++) await redis.xadd(`${prefix}m${j}`, `${k + 1}-0`, 'type', 'progress', 'data', '{}');
      }
      await waitForState('event 5 on every stream', () => [...got.values()].map((ids) => ids.at(-1)), (last) => last.every((id) => id === 5), { timeoutMs: 10_000, intervalMs: 20 });
      for (let k = 0; k < 5; k++) expect(got.get(`${prefix}m${k}`)).toEqual(Array.from({ length: 5 - k }, (_, j) => k + 1 + j));
      expect(hub.streamCount).toBe(5);
      expect(await connectionsNamed(redis, name)).toBe(1);
    } finally {
      for (const f of fs) f.close();
      await hub.close();
    }
  });
});

describe('GET /v1/jobs/{id}/events through the hub', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let base: string;
  beforeAll(async () => {
    t = await testApp('hubroute', { MAX_SSE_STREAMS_PER_KEY: '1000' }); // one client IP opens them all
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => t.close());

  it('60 concurrent clients, 40 joining mid-run with Last-Event-ID, each get every later event once and the terminal event; one hub connection', async () => {
    const { svc } = t.app;
    const job = await svc.jobs.create('default', moonsSpec('ds_x'));
    await svc.jobs.transition(job.id, ['queued'], { status: 'running' }, { event: { type: 'status', data: { status: 'running' } } });
    const url = `${base}/v1/jobs/${job.id}/events`;
    const rnd = rng(5);
    const reads: { from: number; p: SseStream }[] = [];
    for (let i = 0; i < 20; i++) reads.push({ from: 0, p: openSse(url) });
    let last = 2;
    for (let i = 0; i < 150; i++) {
      last = await svc.jobs.appendEvent(job.id, 'progress', { epoch: 0, step: i });
      if (i % 4 === 0 && reads.length < 60) {
        const from = Math.floor(rnd() * (last + 1));
        reads.push({ from, p: openSse(url, { lastEventId: String(from) }) });
      }
      if (rnd() < 0.5) await sleep(1); // the point: clients join while events keep coming
    }
    expect(reads.length).toBe(58);
    reads.push({ from: last, p: openSse(url, { lastEventId: String(last) }) }, { from: 0, p: openSse(url) });
    for (const { p } of reads) await p.waitForOpen(); // every client follows the job now
    expect(await connectionsNamed(svc.redis as Redis, `tsnn-sse-hub-${process.pid}`)).toBe(1);
    const end = await svc.jobs.finish(job.id, ['running'], 'completed');
    for (const { from, p } of reads) {
      const r = await p.done;
      expect(r.status).toBe(200);
      expect(r.closedByServer).toBe(true);
      const ids = r.events.map((e) => Number(e.id));
      expect(ids).toEqual(Array.from({ length: end.eventId - from }, (_, k) => from + 1 + k));
      expect(r.events.at(-1)!.event).toBe('completed');
    }
  });

  it('a client that stops reading does not hold up the others, and gets everything once it reads again; a destroyed one is dropped', async () => {
    const { svc } = t.app;
    const job = await svc.jobs.create('default', moonsSpec('ds_x'));
    await svc.jobs.transition(job.id, ['queued'], { status: 'running' }, { event: { type: 'status', data: { status: 'running' } } });
    const path = `/v1/jobs/${job.id}/events`;
    const { port } = new URL(base);
    const rawClient = () => {
      const s = net.connect(Number(port), '127.0.0.1');
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`);
      return s;
    };
    const slow = rawClient();
    // Reads the head of its stream (so it follows the job), then nothing until the others are done.
    let slowHead = false;
    slow.once('data', (c: Buffer) => {
      slow.pause();
      slow.unshift(c);
      slowHead = true;
    });
    const gone = rawClient();
    gone.once('data', () => gone.destroy());
    const fast = [openSse(`${base}${path}`), openSse(`${base}${path}`)];
    // Every client follows the job: the fast ones got the stream's first bytes, the paused one has them buffered, the other hung up after its first.
    for (const f of fast) await f.waitForOpen();
    await waitFor('the paused and the vanishing raw clients to receive the head of their streams', () => slowHead && gone.destroyed, { timeoutMs: 10_000, intervalMs: 10 });
    // 24 events of 512 KiB: far more than the kernel buffers of one unread socket plus the 1 MiB pause bound.
    const pad = 'x'.repeat(512 * 1024);
    for (let i = 0; i < 24; i++) await svc.jobs.appendEvent(job.id, 'progress', { step: i, pad });
    const end = await svc.jobs.finish(job.id, ['running'], 'completed');
    const all = Array.from({ length: end.eventId }, (_, k) => k + 1);
    for (const p of fast) {
      const r = await p.done;
      expect(r.events.map((e) => Number(e.id))).toEqual(all);
      expect(r.events.at(-1)!.event).toBe('completed');
    }
    const chunks: Buffer[] = [];
    // The response ends with the last chunk (`0` CRLF CRLF); the server may keep the connection.
    await new Promise<void>((r) => {
      let tail = '';
      slow.on('data', (c: Buffer) => {
        chunks.push(c);
        tail = (tail + c.toString('latin1')).slice(-5);
        if (tail === '0\r\n\r\n') r();
      });
      slow.on('close', () => r());
      slow.resume();
    });
    slow.destroy();
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    // Chunked transfer coding: keep only the SSE lines (chunk-size lines are bare hex).
    const body = text.slice(text.indexOf('\r\n\r\n') + 4).replace(/\r\n[0-9a-f]+\r\n/g, '');
    const events = parseSse(body);
    expect(events.map((e) => Number(e.id))).toEqual(all);
    expect(events.at(-1)!.event).toBe('completed');
  });
});
