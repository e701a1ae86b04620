import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { TrainingWorker } from './training-worker.js';

/** Worker process entry: a TrainingWorker until SIGINT/SIGTERM. */
const config = loadConfig();
const log = pino({ level: config.LOG_LEVEL, base: { proc: 'worker' } });
const worker = new TrainingWorker(config, (obj, msg) => log.info(obj, msg));
await worker.worker.waitUntilReady();
log.info({ queue: config.QUEUE_NAME, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  log.info({ signal }, 'worker shutting down');
  await worker.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
