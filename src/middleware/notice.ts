import type { RequestHandler, Response } from 'express';
import type { MessageKey } from '../utils/i18n.js';
import { ID_PATTERN } from '../utils/inputRules.js';

// One-time messages after a redirect. The cookie holds a key, never free text, and is signed; a notice with a
// value (how many sessions ended, the id just registered) holds `key:value`, the value named by `param`.
type Notice = { message: MessageKey; param?: 'count' | 'id' };
export const NOTICES = {
  registered: { message: 'notice.registered', param: 'id' },
  loggedOut: { message: 'notice.loggedOut' },
  accountLocked: { message: 'notice.accountLocked' },
  accountUnlocked: { message: 'notice.accountUnlocked' },
  accountSessionsEnded: { message: 'notice.accountSessionsEnded' },
  passwordChanged: { message: 'password.changed' },
  accountDeleted: { message: 'delete.done' },
  sessionRevoked: { message: 'sessions.notice.revoked' },
  otherSessionsRevoked: { message: 'sessions.notice.revokedOthers', param: 'count' },
  twoFactorDisabled: { message: 'twoFactor.disabled' },
  waitingLoginEnded: { message: 'loginCode.ended' },
  passkeyAdded: { message: 'passkeys.notice.added' },
  passkeyRemoved: { message: 'passkeys.notice.removed' },
  passkeyRenamed: { message: 'passkeys.notice.renamed' },
  emailLinkSent: { message: 'emailPage.notice.sent' },
  emailUnchanged: { message: 'emailPage.notice.unchanged' },
  emailRemoved: { message: 'emailPage.notice.removed' },
  emailVerified: { message: 'emailPage.notice.verified' },
  passwordReset: { message: 'reset.done' },
  secondFactorReset: { message: 'notice.secondFactorReset' },
  accountDeletedByAdmin: { message: 'notice.accountDeletedByAdmin' },
} as const satisfies Record<string, Notice>;

export type NoticeKey = keyof typeof NOTICES;
export type Notices = ReturnType<typeof createNotices>;

const VALUE = /^(\w+)(?::(\w+))?$/;
// What each kind of value may be: never markup, never unbounded.
const PARAM_PATTERNS = { count: /^\d{1,6}$/, id: ID_PATTERN };

export function createNotices(isProduction: boolean) {
  const name = isProduction ? '__Host-notice' : 'notice';
  const options = { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction } as const;

  const read: RequestHandler = (req, res, next) => {
    const value: unknown = req.signedCookies?.[name];
    if (value !== undefined) {
      res.clearCookie(name, options);
      const [, key, param] = (typeof value === 'string' && VALUE.exec(value)) || [];
      const notice: Notice | undefined = key && Object.hasOwn(NOTICES, key) ? NOTICES[key as NoticeKey] : undefined;
      // A value the notice does not take, or not of its kind, was not written by this site: nothing shows.
      if (notice && (param === undefined || (notice.param && PARAM_PATTERNS[notice.param].test(param)))) {
        res.locals.notice = notice.message;
        if (notice.param && param !== undefined) res.locals.noticeParams = { [notice.param]: param };
      }
    }
    next();
  };

  return {
    read,
    set: (res: Response, key: NoticeKey, value?: string | number) =>
      res.cookie(name, value === undefined ? key : `${key}:${value}`, { ...options, signed: true, maxAge: 60_000 }),
  };
}
