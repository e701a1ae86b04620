/** Every Redis key this service writes, under one prefix so a deployment (or a test) is isolated. */
export function keysFor(prefix: string) {
  return {
    prefix,
    dataset: (id: string) => `${prefix}ds:${id}`,
    datasetFeatures: (id: string) => `${prefix}ds:${id}:x`,
    datasetTargets: (id: string) => `${prefix}ds:${id}:y`,
    datasetIndex: (tenant: string) => `${prefix}ds-index:${tenant}`,
    /** Set of the queued or running jobs that use the dataset (deleting it is refused while not empty). */
    datasetActiveJobs: (id: string) => `${prefix}ds:${id}:jobs`,
    job: (id: string) => `${prefix}job:${id}`,
    jobEvents: (id: string) => `${prefix}job:${id}:events`,
    jobModel: (id: string) => `${prefix}job:${id}:model`,
    jobMetrics: (id: string) => `${prefix}job:${id}:metrics`,
    jobCheckpoint: (id: string) => `${prefix}job:${id}:checkpoint`,
    jobIndex: (tenant: string) => `${prefix}job-index:${tenant}`,
    idempotency: (tenant: string, scope: string, key: string) => `${prefix}idem:${tenant}:${scope}:${key}`,
    /** Pub/sub channel on which the API asks workers to cancel a running job (message: job id). */
    cancelChannel: () => `${prefix}cancel`,
  };
}
export type Keys = ReturnType<typeof keysFor>;
