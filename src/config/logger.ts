import { pino, type Logger } from 'pino';

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

/** `buffered`: lines are written asynchronously, coalesced while a write is under way (flush before exit). */
export function createLogger(level: string, { buffered = false } = {}): Logger {
  const destination = pino.destination({ sync: !buffered });
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
