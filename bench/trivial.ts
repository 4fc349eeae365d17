// The control for the worker rows: a trivial Express app, in WEB_CONCURRENCY processes (node:cluster) as the site
// runs, sending BENCH_BODY_BYTES bytes (the info page's size: the load generator reads as much per answer). What two
// of these gain over one is what this machine and the load generator allow.
import cluster from 'node:cluster';
import express from 'express';

const workers = Number(process.env.WEB_CONCURRENCY) || 1;
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => (Object.values(cluster.workers ?? {}).forEach((worker) => worker?.kill()), process.exit(0)));
} else {
  const app = express();
  app.set('etag', false);
  const body = Buffer.alloc(Number(process.env.BENCH_BODY_BYTES) || 2, 'x');
  app.get('/user/info', (_req, res) => res.type('html').send(body));
  app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
