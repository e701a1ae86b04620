/**
 * The blob-store folder of key prefix `prefix`: one path segment of safe characters, different for
 * different prefixes (every character outside [A-Za-z0-9-] becomes `_` and its hex code).
 */
export function blobFolder(prefix: string): string {
  return `${[...prefix].map((c) => (/[A-Za-z0-9-]/.test(c) ? c : `_${c.codePointAt(0)!.toString(16)}`)).join('')}/`;
}

/**
 * Every Redis key this service writes, under one prefix so a deployment (or a test) is isolated.
 *
 * Redis Cluster hash tags: every key of one job carries `{<job id>}` and every key of one dataset
 * `{<dataset id>}`, so each job's (or dataset's) keys live in one slot and a Lua script or MULTI
 * over them is allowed on a cluster. Keys of a tenant (indexes, reservations, idempotency keys)
 * carry no tag; nothing touches two of them, or one of them and a job, in one command.
 * The prefix itself must not contain `{` or `}` (it would become the tag of every key).
 */
export function keysFor(prefix: string) {
  const ds = (id: string) => `${prefix}ds:{${id}}`;
  const job = (id: string) => `${prefix}job:{${id}}`;
  const blobs = blobFolder(prefix);
  return {
    prefix,
    /**
     * This deployment's folder in the blob store (`tsnn:` → `tsnn_3a/`): every blob it writes is
     * under it, and the orphan sweep lists only it, so deployments (and tests) sharing a bucket
     * or DATA_DIR never see each other's blobs as orphans.
     */
    blobFolder: blobs,
    /** The blob of a dataset's columns (new datasets; a record names its own blob key, so older ones are read where they are). */
    datasetBlob: (id: string) => `${blobs}datasets/${id}.bin`,
    /** The folder of every blob of job `id` (models, checkpoints, kept checkpoints). */
    jobBlobs: (id: string) => `${blobs}jobs/${id}/`,
    dataset: ds,
    datasetFeatures: (id: string) => `${ds(id)}:x`,
    datasetTargets: (id: string) => `${ds(id)}:y`,
    datasetIndex: (tenant: string) => `${prefix}ds-index:${tenant}`,
    /** Set of the queued or running jobs that use the dataset (deleting it is refused while not empty). */
    datasetActiveJobs: (id: string) => `${ds(id)}:jobs`,
    job,
    jobEvents: (id: string) => `${job(id)}:events`,
    jobModel: (id: string) => `${job(id)}:model`,
    jobMetrics: (id: string) => `${job(id)}:metrics`,
    jobCheckpoint: (id: string) => `${job(id)}:checkpoint`,
    /** Kept epoch-end checkpoints: a hash epoch → metadata JSON, and one string per epoch (`v8.serialize`d). */
    jobKeptCheckpoints: (id: string) => `${job(id)}:ckpts`,
    jobKeptCheckpoint: (id: string, epoch: number) => `${job(id)}:ckpt:${epoch}`,
    jobIndex: (tenant: string) => `${prefix}job-index:${tenant}`,
    /** Reservations of a tenant's queued or running jobs (sorted set, score: reservation time). */
    activeJobs: (tenant: string) => `${prefix}active-jobs:${tenant}`,
    idempotency: (tenant: string, scope: string, key: string) => `${prefix}idem:${tenant}:${scope}:${key}`,
    /**
     * A webhook endpoint (hash), its deliveries (sorted set of message ids, score: creation ms) and
     * each delivery (JSON string), all under the endpoint's tag `{<endpoint id>}`. The per-job
     * webhooks of a tenant (`webhook` in a job spec) share the pseudo-endpoint `default.<tenant>`.
     */
    webhook: (id: string) => `${prefix}webhook:{${id}}`,
    webhookDeliveries: (id: string) => `${prefix}webhook:{${id}}:deliveries`,
    webhookDelivery: (id: string, messageId: string) => `${prefix}webhook:{${id}}:delivery:${messageId}`,
    /** A tenant's registered endpoint ids (sorted set, scores 0: ids sort by time). */
    webhookIndex: (tenant: string) => `${prefix}webhook-index:${tenant}`,
    /**
     * Stream of jobs that reached a terminal status (`job`, `status`): one entry per applied
     * {@link JobStore.finish}, capped at about {@link JOB_OUTCOMES_MAX_LEN} entries. The API's
     * finished-job metrics follow it.
     */
    jobOutcomes: () => `${prefix}job-outcomes`,
    /** Pub/sub channel on which the API asks workers to cancel a running job (message: job id). */
    cancelChannel: () => `${prefix}cancel`,
    /** SCAN patterns (glob) of the keys sweepers walk. */
    patterns: {
      jobRecords: `${prefix}job:{*}`,
      jobIndexes: `${prefix}job-index:*`,
      activeJobs: `${prefix}active-jobs:*`,
      datasetActiveJobs: `${prefix}ds:{*}:jobs`,
    },
    // A sweep's keys share the hash tag {id}, so its Lua scripts touch one cluster slot.
    /** Sweep record (hash: status, spec, best, eventSeq, …). */
    sweep: (id: string) => `${prefix}sweep:{${id}}`,
    sweepEvents: (id: string) => `${prefix}sweep:{${id}}:events`,
    /** Hash: trial index → trial JSON (params, job id, outcome once ended). */
    sweepTrials: (id: string) => `${prefix}sweep:{${id}}:trials`,
    /** List of trial indexes not yet given a job. */
    sweepPending: (id: string) => `${prefix}sweep:{${id}}:pending`,
    /** Set of trial indexes whose job is queued or running (at most maxConcurrent). */
    sweepActive: (id: string) => `${prefix}sweep:{${id}}:active`,
    /** Sorted set of one ASHA rung: trial index scored by its metric (lower is better). */
    sweepRung: (id: string, rung: number) => `${prefix}sweep:{${id}}:rung:${rung}`,
    /** List of every rung decision (JSON), in order. */
    sweepDecisions: (id: string) => `${prefix}sweep:{${id}}:decisions`,
    sweepIndex: (tenant: string) => `${prefix}sweep-index:${tenant}`,
    /** Set of running sweeps (what workers reconcile periodically). */
    sweepsRunning: () => `${prefix}sweeps-running`,
    /** Hash: trainer process id → JSON {flopsPerSecond, jobs, updatedAt}, measured on finished jobs. */
    workerThroughput: () => `${prefix}worker-throughput`,
    /** Hash: worker process id → JSON {concurrency, seenAt}, a heartbeat of the training slots. */
    workerSlots: () => `${prefix}worker-slots`,
  };
}
export type Keys = ReturnType<typeof keysFor>;

/** About how many entries the {@link keysFor jobOutcomes} stream keeps (`XADD MAXLEN ~`). */
export const JOB_OUTCOMES_MAX_LEN = 10_000;

/** Default BullMQ prefix: hash-tagged, so every key of the queue shares one slot (BullMQ's scripts need it on a cluster). */
export const DEFAULT_QUEUE_PREFIX = '{bull}';

/** The hash tag Redis Cluster hashes `key` by (the whole key when it has none). */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** CRC16-XMODEM table (Redis Cluster's key hash). */
const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** The Redis Cluster slot (0…16383) of `key`: CRC16 of its hash tag, modulo 16384. */
export function slotOf(key: string): number {
  const bytes = Buffer.from(hashTag(key));
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ b) & 0xff];
  return crc & 16383;
}
