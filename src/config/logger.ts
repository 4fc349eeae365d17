import { pino, type DestinationStream, type Logger } from 'pino';

// Anything that could carry a credential is removed before a line is written.
export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.confirmPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
];

/**
 * `buffered`: lines are written 4 kB at a time, or at least every second (flush before exit): a write per line
 * would cost the busiest page more than its render, and an asynchronous write wakes a thread-pool thread each time.
 * `pretty`: lines for a person (development); JSON lines, for a collector, without it or without pino-pretty.
 */
export function createLogger(level: string, { buffered = false, pretty = false } = {}): Logger {
  const destination = (pretty && prettyStream()) || pino.destination(buffered ? { sync: true, minLength: 4096, periodicFlush: 1000 } : { sync: true });
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

/** pino-pretty in pino's worker thread; undefined where dev dependencies are left out (npm ci --omit=dev). */
function prettyStream(): DestinationStream | undefined {
  try {
    import.meta.resolve('pino-pretty');
  } catch {
    return undefined;
  }
  const messageFormat = '{msg}{if req.method}: {req.method} {req.path} → {res.statusCode} in {responseTime} ms{end}';
  return pino.transport({
    target: 'pino-pretty',
    options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,req,res,responseTime', messageFormat, singleLine: true },
  });
}
