import type { FastifyInstance } from 'fastify';
import { CancelRegistry } from '../../workers/cancel-registry.js';
import type { RunContext } from '../../workers/run-job.js';
import { duplicateClient } from '../../src/queue/connection.js';

/** A worker run context on the app's stores, for running a job in the test process. */
export function runContextFor(app: FastifyInstance): RunContext {
  const { svc } = app;
  return {
    jobs: svc.jobs,
    datasets: svc.datasets,
    checkpoints: svc.jobs.checkpoints(),
    cancels: new CancelRegistry(duplicateClient(svc.redis), svc.keys.cancelChannel()),
    progressIntervalMs: 0,
  };
}
