import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { AccountAsChecked, ActivityKind, NewSecurityEvent } from '../models/securityEvents.js';
import { deviceKey } from '../utils/device.js';

/** Writes an event to the security activity (services/securityEvents.ts): whether it was written, undefined on failure. */
export type RecordEvent = (event: NewSecurityEvent, req: Request, asChecked?: AccountAsChecked) => Promise<boolean | undefined>;

/**
 * One JSON line per request with a request id (also sent as X-Request-Id). Only method, path, address, status
 * and time are logged: no headers, so no cookie or token can reach the log. On the hot path: no child logger
 * per request, and the line skips the redaction that every other line goes through (it names its few fields).
 */
export function requestLogger(logger: Logger, recordEvent?: RecordEvent): RequestHandler {
  const accessLog = logger.child({}, { redact: { paths: [] } });
  return (req, res, next) => {
    const started = performance.now();
    const id = randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    req.log = logger;
    req.recordEvent = recordEvent && ((event, asChecked) => recordEvent(event, req, asChecked));
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
  | 'recovery_code.used'
  | 'admin.locked'
  | 'admin.unlocked'
  | 'admin.sessions_ended'
  | 'email.link_sent'
  | 'email.verified'
  | 'email.removed'
  | 'forgot.requested'
  | 'forgot.throttled'
  | 'password.reset'
  | 'admin.reset_link'
  | 'admin.second_factor_reset'
  | 'admin.account_deleted';

/** How an auth event reads on the activity page of the account it is about; the others are log lines only. */
const ACTIVITY: Partial<Record<AuthEvent, ActivityKind>> = {
  'login.ok': 'login',
  'login.failed': 'login_failed',
  'login.code_failed': 'login_failed',
  'reauth.failed': 'login_failed',
  logout: 'logout',
  'session.revoked': 'session_ended',
  'sessions.revoked_others': 'session_ended',
  'refresh.reuse_revoked': 'session_ended',
  'password.changed': 'password_changed',
  'totp.enabled': 'totp_on',
  'totp.disabled': 'totp_off',
  'recovery_code.used': 'recovery_code_used',
  'recovery_codes.renewed': 'recovery_codes_renewed',
  'passkey.added': 'passkey_added',
  'passkey.renamed': 'passkey_renamed',
  'passkey.removed': 'passkey_removed',
  'admin.locked': 'locked',
  'admin.unlocked': 'unlocked',
  'admin.sessions_ended': 'session_ended',
  'forgot.requested': 'reset_requested',
  'password.reset': 'password_reset',
  'email.link_sent': 'email_added',
  'email.verified': 'email_verified',
  'email.removed': 'email_removed',
  'admin.reset_link': 'reset_link_issued',
  'admin.second_factor_reset': 'second_factor_reset',
  'admin.account_deleted': 'account_deleted',
};

/** What an event's fields say for its activity row: who did it, and a detail (which session, which passkey). */
export interface EventFields {
  /** The account the event is about (written to the log line). */
  user?: string;
  /** The administrator who did it. */
  admin?: string;
  /** Done by the site itself (reuse detected). */
  bySystem?: boolean;
  /** A login from a device the account has not used lately. */
  newDevice?: boolean;
  /** What the activity page shows beside the kind (kept out of the log line). */
  detail?: string;
  [field: string]: unknown;
}

/**
 * A structured auth event on the request's own log line context (request id included), and, when it is one of the
 * activity's kinds, a row of the account's security activity (services/securityEvents.ts). `about` names the account
 * of an event whose log line must not (a failed login's typed id, which may be a password).
 */
export function authEvent(req: Request, event: AuthEvent, fields: EventFields = {}, about?: string): void {
  logEvent(req, event, fields);
  const activity = activityOf(req, event, fields, about);
  if (activity) void req.recordEvent!(activity);
}

/** The event's log line alone (a login writes its activity row with its own check: controllers/user.controller.ts). */
export function logEvent(req: Request, event: AuthEvent, fields: EventFields = {}): void {
  const logged = { ...fields };
  delete logged.detail; // the activity page's, not the log's
  req.log.info({ reqId: req.id, event, ip: req.ip, ...logged }, event);
}

/** The activity row an event makes for the account it is about, if it is one of the activity's kinds (and recorded here). */
export function activityOf(req: Request, event: AuthEvent, fields: EventFields = {}, about?: string): NewSecurityEvent | undefined {
  const kind = ACTIVITY[event];
  const account = about ?? fields.user;
  if (!kind || !account || !req.recordEvent) return undefined;
  const userAgent = req.get('user-agent') ?? '';
  return {
    kind: kind === 'login' && fields.newDevice ? 'login_new_device' : kind,
    userId: account,
    actor: fields.admin ? { kind: 'admin', id: fields.admin } : fields.bySystem ? { kind: 'system' } : { kind: 'self' },
    ip: req.ip ?? '',
    userAgent,
    deviceKey: deviceKey(userAgent),
    detail: fields.detail,
  };
}

/** Names an attempted id in the logs without its text (people type passwords into the id box). */
export type IdTag = (id: unknown) => string;

/** A keyed hash, so the same id gives the same tag across processes, and nobody without the key can test a guess. */
export function createIdTag(secret: string): IdTag {
  const key = createSecretKey(createHmac('sha256', secret).update('login-page attempted-id tag').digest());
  return (id) => createHmac('sha256', key).update(String(id).toLowerCase()).digest('base64url').slice(0, 16);
}
