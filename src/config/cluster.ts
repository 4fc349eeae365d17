import cluster from 'node:cluster';
import type { Logger } from 'pino';

// A worker that dies soon after its start doubles the wait before the next one (a crash at start would loop).
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 30_000;
const STABLE_AFTER_MS = 10_000;
// Workers drain their requests within their own grace; one that hangs past this is killed.
const DRAIN_LIMIT_MS = 20_000;

/**
 * The primary of WEB_CONCURRENCY workers, each a whole site (server.ts) on the shared port: a worker that dies is
 * replaced, with a growing delay while workers die young; SIGTERM/SIGINT is passed on to every worker, which
 * finishes its requests in flight, and the primary exits 0 once they are all gone.
 */
export function runPrimary(workers: number, port: number, logger: Logger): void {
  let restartDelay = RESTART_MIN_MS;
  let stopping = false;
  const startedAt = new Map<number, number>();
  const fork = () => {
    if (stopping) return;
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
  };
  const alive = () => Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    startedAt.delete(worker.id);
    if (stopping) {
      if (alive().length === 0) logger.flush(() => process.exit(0));
      return;
    }
    restartDelay = lived >= STABLE_AFTER_MS ? RESTART_MIN_MS : Math.min(restartDelay * 2, RESTART_MAX_MS);
    logger.error({ workerPid: worker.process.pid, code, signal, restartInMs: restartDelay }, 'worker died; starting another');
    setTimeout(fork, restartDelay);
  });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: alive().length }, 'shutting down');
    if (alive().length === 0) return logger.flush(() => process.exit(0));
    for (const worker of alive()) worker.process.kill('SIGTERM');
    setTimeout(() => alive().forEach((worker) => worker.process.kill('SIGKILL')), DRAIN_LIMIT_MS).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  // The first line still says where the site is (each worker says so too, with its own pid).
  cluster.once('listening', () => {
    logger.info({ port, workers }, `login-page listening on http://localhost:${port}`);
    logger.flush(); // at once: the workers' lines, buffered, come after it
  });
  for (let i = 0; i < workers; i++) fork();
}
