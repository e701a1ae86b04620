import { buildApp } from './app.js';
import { loadConfigOrExit } from './config.js';
import { evictionPolicyWarning, isCluster } from './queue/connection.js';
import { migrateLegacyKeys } from './storage/migrate-keys.js';

/**
 * Starts the API: listens on HOST:PORT; on SIGINT/SIGTERM stops accepting connections, ends open
 * SSE streams with a `retry:` hint (clients reconnect to another instance) and exits.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await buildApp(config);
  // Keys written before hash tags (an upgraded single Redis) move to their new names once. Not on
  // a cluster: it never held the old names (they failed there with CROSSSLOT).
  const redis = app.svc.redis;
  if (!isCluster(redis)) {
    try {
      const moved = await migrateLegacyKeys(redis, app.svc.keys, { prefix: config.QUEUE_PREFIX, name: config.QUEUE_NAME });
      if (moved.renamed || moved.queueKeys || moved.skipped) app.log.info(moved, 'renamed keys written before Redis Cluster hash tags');
    } catch (err) {
      app.log.warn({ err: (err as Error).message }, 'could not check for keys written before hash tags (Redis unreachable?); retried at the next start');
    }
  }
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'api shutting down');
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    await app.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGINT', () => void close('SIGINT'));
  process.on('SIGTERM', () => void close('SIGTERM'));
  await app.listen({ port: config.PORT, host: config.HOST });
  // An evicting Redis silently loses queued jobs and checkpoints under memory pressure.
  const warning = await evictionPolicyWarning(app.svc.redis).catch(() => null);
  if (warning) app.log.warn(warning);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
