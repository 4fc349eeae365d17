// What a reader would put in front of any Express page in production: helmet's headers and pino-http's request
// log to stdout (the bench discards it, as the site's). BENCH_PRODUCTION=1 turns it on in a peer.
import type { Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';

export function inProduction(app: Express): void {
  if (process.env.BENCH_PRODUCTION === '1') app.use(helmet(), pinoHttp());
}
