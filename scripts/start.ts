/**
 * `npm start` (after `npm run build`, as dist/scripts/start.js) and `npm run dev` (from source,
 * under tsx): the API and WORKERS worker processes (default 1), against REDIS_URL. When nothing
 * answers there and `redis-server` is installed, starts a private Redis with data under `.data/`
 * (AOF on). A child that exits unexpectedly is restarted with backoff (1 s doubling to 30 s, reset
 * after a minute up); the others keep running. Ctrl-C (or SIGTERM) stops everything in order: the
 * API, then the workers (they hand their jobs back), Redis last.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfigOrExit } from '../src/config.js';
import { redisAnswers } from '../src/queue/connection.js';
import { Supervisor } from './supervisor.js';

// Compiled (`npm start`): the API and workers run compiled too, as in the Docker image; under tsx
// (`npm run dev`, the tests): from source (tsx's transform costs the API more CPU per request:
// bench/RESULTS.md).
const compiled = import.meta.url.endsWith('.js');
const root = resolve(import.meta.dirname, compiled ? '../..' : '..');
const say = (msg: string, fields: Record<string, unknown> = {}) => console.log(JSON.stringify({ level: 30, time: Date.now(), proc: 'start', ...fields, msg }));

async function ensureRedis(url: string): Promise<ChildProcess | null> {
  if (await redisAnswers(url)) return null;
  const u = new URL(url);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname);
  const installed = spawnSync('redis-server', ['--version']).status === 0;
  if (!local || !installed) {
    console.error(
      `Nothing answers at REDIS_URL=${url}.\n` +
        (local
          ? 'Install Redis (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) and run `npm start` again ' +
            '(it starts a private redis-server itself), or run one with `docker run -d -p 6379:6379 redis:7`, or set REDIS_URL.'
          : 'Start that Redis or point REDIS_URL at one that runs.'),
    );
    process.exit(1);
  }
  // REDIS_DATA_DIR lets tests (and users) keep the private Redis's files elsewhere.
  const dir = resolve(process.env.REDIS_DATA_DIR ?? resolve(root, '.data'));
  mkdirSync(dir, { recursive: true });
  const port = u.port || '6379';
  // Own process group: Ctrl-C reaches API and worker first; Redis stops after them.
  const redis = spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
    detached: true,
  });
  for (let i = 0; i < 50 && !(await redisAnswers(url, 200)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await redisAnswers(url))) {
    console.error(`started redis-server on port ${port} but it does not answer; see ${dir}`);
    redis.kill('SIGTERM');
    process.exit(1);
  }
  say(`no Redis answered at ${url}: started a private redis-server (pid ${redis.pid}) on port ${port}, data in ${dir} with AOF on`);
  return redis;
}

const config = loadConfigOrExit();
// On a Redis Cluster (REDIS_CLUSTER_NODES) the cluster is the operator's: never start a private Redis then.
const redis = config.REDIS_CLUSTER_NODES ? null : await ensureRedis(config.REDIS_URL);

const supervisor = new Supervisor((fields, msg) => say(msg, fields));
const entry = (file: string) => (compiled ? [resolve(root, 'dist', file.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', resolve(root, file)]);
supervisor.add({ name: 'api', command: process.execPath, args: entry('src/server.ts'), env: process.env, cwd: root, stopOrder: 0 });
for (let i = 1; i <= config.WORKERS; i++)
  supervisor.add({ name: `worker-${i}`, command: process.execPath, args: entry('workers/main.ts'), env: process.env, cwd: root, stopOrder: 1 });

let stopping = false;
async function shutdown(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping the API, then the workers, then Redis`, { signal });
  await supervisor.stop();
  if (redis && redis.exitCode === null) {
    const gone = new Promise((r) => redis.once('exit', r));
    redis.kill('SIGTERM');
    await gone;
  }
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
