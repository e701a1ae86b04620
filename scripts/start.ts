/**
 * `npm start`: the API and one worker as two processes, against REDIS_URL. When nothing answers
 * there and `redis-server` is installed, starts a private Redis with data under `.data/` (AOF
 * on). Ctrl-C (or SIGTERM) stops everything in order: API and worker first, Redis last.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfigOrExit } from '../src/config.js';
import { redisAnswers } from '../src/queue/connection.js';

const root = resolve(import.meta.dirname, '..');
const say = (msg: string) => console.log(JSON.stringify({ level: 30, time: Date.now(), proc: 'start', msg }));

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
const redis = await ensureRedis(config.REDIS_URL);
const run = (name: string, file: string) =>
  spawn(process.execPath, ['--import', 'tsx', resolve(root, file)], { stdio: 'inherit', env: process.env, cwd: root }).on('exit', (code, signal) =>
    onExit(name, code, signal),
  );

const children = new Map<string, ChildProcess>();
let stopping = false;

function onExit(name: string, code: number | null, signal: NodeJS.Signals | null) {
  children.delete(name);
  if (!stopping) {
    console.error(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping`);
    void stop(1);
  } else if (children.size === 0) finish();
}

let exitCode = 0;
function finish() {
  if (redis && redis.exitCode === null) {
    redis.once('exit', () => process.exit(exitCode));
    redis.kill('SIGTERM');
  } else process.exit(exitCode);
}

async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  if (children.size === 0) return finish();
  for (const c of children.values()) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children.values()) c.kill('SIGKILL');
  }, 15_000).unref();
}

children.set('api', run('api', 'src/server.ts'));
children.set('worker', run('worker', 'workers/main.ts'));
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
