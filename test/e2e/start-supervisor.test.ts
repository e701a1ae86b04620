import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from '../../src/core/index.js';
import { kernelOptions } from '../../src/native-kernels/index.js';
import type { Job } from '../../src/schemas/job.js';
import { keysFor } from '../../src/storage/keys.js';
import { moons } from '../helpers/data.js';
import { freePort } from '../helpers/net.js';
import { startTs, stop, waitForHttp } from '../helpers/processes.js';
import { deletePrefix, redisUrl, uniquePrefix, testQueuePrefix } from '../helpers/redis.js';
import { fastRecovery, isFinished, longSpec, redisClient, waitJob } from '../reliability/harness.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

/*
 * `npm start` as a supervisor: a worker (or the API) killed with SIGKILL is restarted while the
 * survivors keep running, and the job in flight completes with the uninterrupted run's weights.
 */
const prefix = uniquePrefix('supervise');
const keys = keysFor(prefix);
const redis = redisClient();
let child: ReturnType<typeof startTs> | undefined;

afterAll(async () => {
  if (child) await stop(child, 30_000);
  await deletePrefix(prefix);
  redis.disconnect();
});

/** Pid of the latest start of `name`, from the supervisor's JSON log lines. */
function pidOf(output: string, name: string): number | undefined {
  const starts = [...output.matchAll(new RegExp(`"msg":"${name} started \\(pid (\\d+)\\)"`, 'g'))];
  return starts.length ? Number(starts.at(-1)![1]) : undefined;
}

const supervisorOutput = () => `supervisor output:\n${child?.output().slice(-3000)}`;

describe('npm start supervises its processes', () => {
  it('restarts a SIGKILLed worker and API with backoff; the job completes with the uninterrupted weights; SIGTERM stops all', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    child = startTs('scripts/start.ts', {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl(),
      KEY_PREFIX: prefix,
      QUEUE_PREFIX: testQueuePrefix(prefix),
      LOG_LEVEL: 'info',
      WORKERS: '2',
      WORKER_CONCURRENCY: '1',
      ...fastRecovery,
    });
    await waitForHttp(`${base}/readyz`, 60_000);
    await waitFor('both workers', () => pidOf(child!.output(), 'worker-1') && pidOf(child!.output(), 'worker-2'), { context: supervisorOutput });

    // Values exact in float32, so the reference run below trains on what the worker loads.
    const rows = moons(20_000).map((r) => r.map(Math.fround));
    const up = await fetch(`${base}/v1/datasets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'moons', features: rows.map((r) => r.slice(0, 2)), targets: rows.map((r) => r[2]) }),
    });
    expect(up.status).toBe(201);
    const datasetId = ((await up.json()) as { id: string }).id;
    const spec = longSpec(6);
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId, ...spec }) });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as Job).id;

    // Kill whichever worker holds the job once its first attempt wrote a checkpoint.
    const running = await waitJob(base, id, (j) => j.status === 'running' || isFinished(j));
    expect(running.status).toBe('running');
    await waitFor('a checkpoint of attempt 1', async () => Number(await redis.hget(keys.jobCheckpoint(id), 'attempt')) === running.attempts, { context: supervisorOutput });
    // The holder is the worker with a trainer child process (no other job ran, so no pooled children).
    const holder = await waitFor('the worker holding the job', () => ['worker-1', 'worker-2'].find((w) => childPids(pidOf(child!.output(), w)!).length > 0), { context: supervisorOutput });
    const victim = pidOf(child!.output(), holder)!;
    const survivor = holder === 'worker-1' ? 'worker-2' : 'worker-1';
    const survivorPid = pidOf(child!.output(), survivor);
    process.kill(victim, 'SIGKILL');

    // The API keeps answering while the worker is down and restarted; the survivor is untouched.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor(`${holder} restarted`, () => {
      const pid = pidOf(child!.output(), holder);
      return pid !== undefined && pid !== victim;
    }, { context: supervisorOutput });
    expect(child.output()).toMatch(new RegExp(`${holder} exited unexpectedly \\(code null, signal SIGKILL\\); restarting in 1000 ms`));
    expect(pidOf(child.output(), survivor)).toBe(survivorPid);

    const done = await waitJob(base, id, isFinished, 120_000);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.attempts).toBeGreaterThan(1);
    const ref = await train(spec, {
      features: Float32Array.from(rows.flatMap((r) => r.slice(0, 2))),
      targets: Float32Array.from(rows.map((r) => r[2])),
      rows: rows.length,
      featureCount: 2,
      targetWidth: 1,
    }, kernelOptions());
    expect(done.result!.weightsHash).toBe(ref.weightsHash);

    // The API too: killed, restarted, answering again on the same port.
    const apiPid = pidOf(child.output(), 'api')!;
    process.kill(apiPid, 'SIGKILL');
    await waitFor('api restarted', () => {
      const pid = pidOf(child!.output(), 'api');
      return pid !== undefined && pid !== apiPid;
    }, { context: supervisorOutput });
    await waitForHttp(`${base}/readyz`, 60_000);
    expect((await fetch(`${base}/v1/jobs/${id}`)).status).toBe(200);

    // SIGTERM stops everything, none restarted.
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await withDeadline('npm start to exit after SIGTERM', exited, 60_000, supervisorOutput)).toBe(0);
    expect(child.output()).not.toMatch(/exited unexpectedly \(code 0/);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  }, 240_000);
});

/** Child pids of `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
