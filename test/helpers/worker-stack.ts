import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.js';
import { createRedis } from '../../src/queue/connection.js';
import { TrainingQueue } from '../../src/queue/training-queue.js';
import type { Job } from '../../src/schemas/job.js';
import type { JobSubmission } from '../../src/schemas/training-spec.js';
import { createBlobStore } from '../../src/storage/blobs/index.js';
import { DatasetStore } from '../../src/storage/dataset-store.js';
import { JobStore } from '../../src/storage/job-store.js';
import { keysFor, type Keys } from '../../src/storage/keys.js';
import { TrainingWorker } from '../../workers/training-worker.js';
import { deletePrefix, testConfig, uniquePrefix } from './redis.js';
import { waitForState } from './wait.js';

/**
 * A TrainingWorker running in the test process (its trainers are child processes, as in
 * production), with the job and dataset stores and the queue a test submits through, all on one
 * unique key prefix. The setup the worker tests share; for worker *processes* (kill -9, SIGTERM,
 * network cuts) see test/reliability/harness.ts.
 */
export interface WorkerStack {
  prefix: string;
  config: Config;
  redis: Redis;
  keys: Keys;
  jobs: JobStore;
  datasets: DatasetStore;
  queue: TrainingQueue;
  worker: TrainingWorker;
  /** Stores rows `[...features, label]` (one target column) as a dataset of tenant `default`; returns its id. */
  storeRows(rows: number[][], name?: string): Promise<string>;
  /** Creates the job record and enqueues it; returns the job id. */
  submit(spec: JobSubmission): Promise<string>;
  /** Polls the job record until `pred` holds; on timeout the error shows the record last read. */
  waitJob(id: string, pred: (j: Job) => boolean, timeoutMs?: number): Promise<Job>;
  /** Closes worker, queue, blob store and connection, and deletes every key and blob of the prefix. */
  close(): Promise<void>;
}

export const isFinished = (j: Job) => ['completed', 'failed', 'cancelled'].includes(j.status);

/** Starts a {@link WorkerStack} on `uniquePrefix(name)`; `env` overrides {@link testConfig}'s settings (e.g. an S3 blob store). */
export function workerStack(name: string, env: Record<string, string> = {}, opts: { attempts?: number } = {}): WorkerStack {
  const prefix = uniquePrefix(name);
  const config = testConfig(prefix, env);
  const redis = createRedis(config.REDIS_URL);
  const keys = keysFor(prefix);
  const jobs = new JobStore(redis, keys);
  const datasets = new DatasetStore(redis, keys, createBlobStore(config));
  const queue = new TrainingQueue(redis, { prefix: config.QUEUE_PREFIX, keyPrefix: prefix, attempts: opts.attempts ?? 3 });
  const worker = new TrainingWorker(config);
  return {
    prefix,
    config,
    redis,
    keys,
    jobs,
    datasets,
    queue,
    worker,
    async storeRows(rows, name = 'm') {
      const featureCount = rows[0].length - 1;
      const ds = await datasets.create({
        tenant: 'default',
        name,
        rows: rows.length,
        featureCount,
        targetWidth: 1,
        features: Float64Array.from(rows.flatMap((r) => r.slice(0, featureCount))),
        targets: Float64Array.from(rows.map((r) => r[featureCount])),
      });
      return ds.id;
    },
    async submit(spec) {
      const job = await jobs.create('default', spec);
      await queue.enqueue(job.id);
      return job.id;
    },
    waitJob: (id, pred, timeoutMs = 45_000) => waitForState(`job ${id}: ${pred.toString()}`, async () => (await jobs.get(id))!, pred, { timeoutMs }),
    async close() {
      await worker.close(1000);
      await queue.close();
      await datasets.blobs.close();
      await deletePrefix(prefix);
      redis.disconnect();
    },
  };
}
