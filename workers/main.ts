import pino from 'pino';
import { loadConfigOrExit } from '../src/config.js';
import { TrainingWorker } from './training-worker.js';
import { WebhookWorker } from './webhook-worker.js';

/** Worker process entry: a TrainingWorker until SIGINT/SIGTERM (graceful, bounded by WORKER_SHUTDOWN_TIMEOUT_MS). */
const config = loadConfigOrExit();
const log = pino({ level: config.LOG_LEVEL, base: { proc: 'worker' } });
const worker = new TrainingWorker(config, (obj, msg) => log.info(obj, msg));
// Webhook deliveries run in the same process: light, I/O-bound, and beside the jobs that trigger them.
const webhooks = new WebhookWorker(config, (obj, msg) => log.info(obj, msg));
await worker.worker.waitUntilReady();
log.info({ queue: config.QUEUE_NAME, concurrency: config.WORKER_CONCURRENCY, ...worker.reliability }, 'worker ready');

let closing = false;
async function shutdown(signal: string) {
  // Ctrl-C under `npm start` delivers SIGINT (terminal) and SIGTERM (start script) together: one shutdown.
  if (closing) return;
  closing = true;
  const t0 = performance.now();
  log.info({ signal }, 'worker shutting down: running jobs are checkpointed and handed back');
  // Bound the whole exit even if Redis is unreachable and quit() hangs.
  setTimeout(() => process.exit(1), worker.reliability.WORKER_SHUTDOWN_TIMEOUT_MS + 3000).unref();
  await Promise.all([worker.close(), webhooks.close()]);
  log.info({ ms: Math.round(performance.now() - t0) }, 'worker stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
