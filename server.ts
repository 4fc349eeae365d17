import cluster from 'node:cluster';
import dotenv from 'dotenv';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './src/config/index.js';
import { closeStores, openStores } from './src/config/clients.js';
import { runPrimary } from './src/config/cluster.js';
import { createLogger } from './src/config/logger.js';
import { lowerThreadPoolPriority, reportPoolPriority } from './src/config/threadPool.js';
import { migrateWhenReachable } from './src/models/migrate.js';
import { createConfiguredSender } from './src/services/mail/sender.js';

// Variables already in the environment win over .env.
dotenv.config({ quiet: true });

const SHUTDOWN_GRACE_MS = 10_000;

function readConfig() {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

const config = readConfig();
const logger = createLogger(config.logLevel, { buffered: true, pretty: !config.isProduction });

/**
 * One whole site in this process (migrations under their named lock, so N workers apply them once). argon2 runs on
 * libuv's thread pool: its threads niced leave the core to the event loop. They are found by their work before
 * anything else runs (a hash or a query under way would hide one), and said after the line a person or a supervisor
 * waits for, which goes out at once (a worker's after its primary's).
 */
async function serveSite(): Promise<void> {
  const pool = await lowerThreadPoolPriority();
  const stores = openStores(config, logger);
  const stopping = new AbortController();
  // The outbox's sender runs in every site process (rows are locked one at a time: instances never send one twice),
  // from the moment the schema, its table included, is current.
  const sender = createConfiguredSender({ db: stores.db, config, logger });
  void migrateWhenReachable(stores.db, logger, stopping.signal).then(() => stopping.signal.aborted || sender.start());
  const server = createApp({ config, ...stores, logger, nudgeMail: sender.nudge }).listen(config.port, () => {
    logger.info({ port: config.port }, `login-page listening on http://localhost:${config.port}`);
    for (const warning of config.warnings) logger.warn(warning);
    if (cluster.isPrimary) logger.flush();
    reportPoolPriority(pool, logger);
  });

  // Slow or unfinished requests are cut off instead of holding a socket for Node's default five minutes.
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;

  async function shutdown(signal: string): Promise<void> {
    logger.info({ signal }, 'shutting down');
    stopping.abort();
    // Requests in flight may finish; idle keep-alive sockets are closed at once, stragglers after the grace.
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await closed;
    clearTimeout(timer);
    await sender.stop();
    await closeStores(stores);
    logger.flush(() => process.exit(0));
  }

  // Once: a Ctrl-C reaches a worker both from the terminal and from its primary.
  const onSignal = (signal: string) => stopping.signal.aborted || void shutdown(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// WEB_CONCURRENCY > 1: this process forks the workers (each runs this file as a site) and only watches them.
if (cluster.isPrimary && config.webConcurrency > 1) runPrimary(config.webConcurrency, config.port, logger);
else void serveSite();

// A store failure must never take the process down.
process.on('unhandledRejection', (reason) => logger.error({ err: { message: String((reason as Error)?.message ?? reason) } }, 'unhandled rejection'));
