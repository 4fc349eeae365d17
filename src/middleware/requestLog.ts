import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';

/**
 * One JSON line per request with a request id (also sent as X-Request-Id). Only method, path, address, status
 * and time are logged: no headers, so no cookie or token can reach the log. On the hot path: no child logger
 * per request, and the line skips the redaction that every other line goes through (it names its few fields).
 */
export function requestLogger(logger: Logger): RequestHandler {
  const accessLog = logger.child({}, { redact: { paths: [] } });
  return (req, res, next) => {
    const started = performance.now();
    const id = randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    req.log = logger;
    res.once('finish', () => {
      const line = {
        req: { id, method: req.method, path: req.originalUrl.split('?', 1)[0], remoteAddress: req.socket.remoteAddress },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
      };
      if (res.statusCode >= 500) accessLog.error(line, 'request completed');
      else accessLog.info(line, 'request completed');
    });
    next();
  };
}

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
  | 'login.second_factor'
  | 'login.code_failed'
  | 'totp.enabled'
  | 'totp.disabled'
  | 'passkey.added'
  | 'passkey.removed'
  | 'passkey.login_failed'
  | 'session.confirmed'
  | 'recovery_codes.renewed'
  | 'passkey.options_throttled'
  | 'passkey.renamed'
  | 'email.link_sent'
  | 'email.verified'
  | 'email.removed'
  | 'forgot.requested'
  | 'forgot.throttled'
  | 'password.reset'
  | 'admin.reset_link'
  | 'admin.second_factor_reset'
  | 'admin.account_deleted';

/** A structured auth event on the request's own log line context (request id included). */
export function authEvent(req: Request, event: AuthEvent, fields: Record<string, unknown> = {}): void {
  req.log.info({ reqId: req.id, event, ip: req.ip, ...fields }, event);
}

/** Names an attempted id in the logs without its text (people type passwords into the id box). */
export type IdTag = (id: unknown) => string;

/** A keyed hash, so the same id gives the same tag across processes, and nobody without the key can test a guess. */
export function createIdTag(secret: string): IdTag {
  const key = createSecretKey(createHmac('sha256', secret).update('login-page attempted-id tag').digest());
  return (id) => createHmac('sha256', key).update(String(id).toLowerCase()).digest('base64url').slice(0, 16);
}
