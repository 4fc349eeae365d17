import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/**
 * One JSON line per request with a request id (also sent as X-Request-Id). Only method, path and address are
 * logged of the request: no headers, so no cookie or token can reach the log.
 */
export const requestLogger = (logger: Logger) =>
  pinoHttp({
    logger,
    genReqId: (_req: IncomingMessage, res: ServerResponse) => {
      const id = randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        path: req.url.split('?')[0],
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  });

export type AuthEvent =
  | 'login.ok'
  | 'login.failed'
  | 'login.throttled'
  | 'register.ok'
  | 'register.throttled'
  | 'refresh'
  | 'refresh.reuse_revoked'
  | 'logout'
  | 'reauth.failed'
  | 'password.changed'
  | 'account.deleted'
  | 'session.revoked'
  | 'sessions.revoked_others'
  | 'passkey.added'
  | 'passkey.removed'
  | 'passkey.login_failed';

/** A structured auth event on the request's own log line context (request id included). */
export function authEvent(req: Request, event: AuthEvent, fields: Record<string, unknown> = {}): void {
  req.log.info({ event, ip: req.ip, ...fields }, event);
}

/** Names an attempted id in the logs without its text (people type passwords into the id box). */
export type IdTag = (id: unknown) => string;

/** A keyed hash, so the same id gives the same tag across processes, and nobody without the key can test a guess. */
export function createIdTag(secret: string): IdTag {
  const key = createSecretKey(createHmac('sha256', secret).update('login-page attempted-id tag').digest());
  return (id) => createHmac('sha256', key).update(String(id).toLowerCase()).digest('base64url').slice(0, 16);
}
