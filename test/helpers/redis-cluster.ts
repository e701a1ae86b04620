import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor, waitForState } from './wait.js';

/** True when `port` can be bound on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `n` ports that are free, whose cluster bus ports (port + 10000) are free too. */
async function freeClusterPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < n && tries < 500; tries++) {
    const p = 20_000 + Math.floor(Math.random() * 25_000);
    if (ports.includes(p) || ports.includes(p + 10_000) || ports.includes(p - 10_000)) continue;
    if ((await portFree(p)) && (await portFree(p + 10_000))) ports.push(p);
  }
  if (ports.length < n) throw new Error('no free loopback ports for a Redis Cluster');
  return ports;
}

/** Installs redis-server (and redis-cli) with apt when missing, as `.ci/run` does; throws with the fix when it can't. */
export function ensureRedisServer(): void {
  const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;
  if (has('redis-server') && has('redis-cli')) return;
  if (process.getuid?.() === 0) spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], { stdio: 'inherit' });
  if (!has('redis-server') || !has('redis-cli')) throw new Error('redis-server and redis-cli are needed for the Redis Cluster tests: apt-get install -y redis-server');
}

/** A node of a {@link RedisCluster}. */
export interface ClusterNodeProc {
  port: number;
  dir: string;
  proc: ChildProcess | null;
}

/** A Redis Cluster of the test's own: masters on loopback, AOF on (fsync always), temp dirs. */
export interface RedisCluster {
  nodes: ClusterNodeProc[];
  /** `REDIS_CLUSTER_NODES` for the service: `127.0.0.1:p1,127.0.0.1:p2,…`. */
  seeds: string;
  /** The node serving `slot` now. */
  nodeOfSlot(slot: number): Promise<ClusterNodeProc>;
  /** SIGKILL one node (no shutdown, no final AOF rewrite: a crash). */
  kill(node: ClusterNodeProc): Promise<void>;
  /** Starts a killed node again on its port, dir and nodes.conf; resolves once the cluster is ok. */
  restart(node: ClusterNodeProc): Promise<void>;
  /** Stops every node (SIGTERM) and removes the temp dirs. */
  stop(): Promise<void>;
}

function startNode(n: ClusterNodeProc): void {
  n.proc = spawn(
    'redis-server',
    ['--port', String(n.port), '--bind', '127.0.0.1', '--dir', n.dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${n.port}.conf`, '--cluster-node-timeout', '2000', '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
}

async function answers(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 300, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Waits until every node reports `cluster_state:ok` and knows all `count` masters. */
async function waitClusterOk(ports: number[], timeoutMs = 30_000): Promise<void> {
  await waitForState(
    `cluster_state:ok with ${ports.length} masters on every node (${ports.join(', ')})`,
    async () => {
      const bad: string[] = [];
      for (const port of ports) {
        const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => {});
        try {
          await r.connect();
          const info = String(await r.call('CLUSTER', 'INFO'));
          if (!/cluster_state:ok/.test(info) || !new RegExp(`cluster_size:${ports.length}\\b`).test(info)) bad.push(`${port}: ${info.match(/cluster_state:\w+/)?.[0]} ${info.match(/cluster_size:\d+/)?.[0]}`);
        } catch (e) {
          bad.push(`${port}: ${(e as Error).message}`);
        } finally {
          r.disconnect();
        }
      }
      return bad;
    },
    (bad) => bad.length === 0,
    { timeoutMs, intervalMs: 100 },
  );
}

/** Waits until the node on `port` answers PING. */
const waitAnswers = (port: number, timeoutMs: number) => waitFor(`the Redis Cluster node on port ${port} to answer PING`, () => answers(port), { timeoutMs, intervalMs: 25 });

/**
 * Starts `masters` redis-server nodes with `--cluster-enabled yes` on free loopback ports (bus
 * ports free too), joins them with `redis-cli --cluster create … --cluster-replicas 0` and
 * waits for `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  ensureRedisServer();
  const root = mkdtempSync(join(tmpdir(), 'tsnn-cluster-'));
  const ports = await freeClusterPorts(masters);
  const nodes: ClusterNodeProc[] = ports.map((port) => {
    const dir = join(root, String(port));
    mkdirSync(dir);
    return { port, dir, proc: null };
  });
  const stop = async () => {
    await Promise.all(
      nodes.map(async (n) => {
        const p = n.proc;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) startNode(n);
    for (const n of nodes) await waitAnswers(n.port, 10_000);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await waitClusterOk(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    async nodeOfSlot(slot: number) {
      const up = nodes.find((n) => n.proc && n.proc.exitCode === null)!;
      const r = new Redis({ port: up.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      try {
        const ranges = (await r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no node serves slot ${slot}`);
        return nodes.find((n) => n.port === Number(range[2][1]))!;
      } finally {
        r.disconnect();
      }
    },
    async kill(n: ClusterNodeProc) {
      const p = n.proc;
      if (!p || p.exitCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    },
    async restart(n: ClusterNodeProc) {
      startNode(n);
      await waitAnswers(n.port, 20_000);
      await waitClusterOk(ports);
    },
    stop,
  };
}
