import type { RequestHandler, Response } from 'express';
import type { MessageKey } from '../utils/i18n.js';

// One-time messages after a redirect. The cookie holds a key, never free text, and is signed; a notice that
// says how many holds `key:count`.
export const NOTICES = {
  registered: 'notice.registered',
  loggedOut: 'notice.loggedOut',
  accountLocked: 'notice.accountLocked',
  accountUnlocked: 'notice.accountUnlocked',
  accountSessionsEnded: 'notice.accountSessionsEnded',
  passwordChanged: 'password.changed',
  accountDeleted: 'delete.done',
  sessionRevoked: 'sessions.notice.revoked',
  otherSessionsRevoked: 'sessions.notice.revokedOthers',
} as const satisfies Record<string, MessageKey>;

export type NoticeKey = keyof typeof NOTICES;
export type Notices = ReturnType<typeof createNotices>;

const VALUE = /^(\w+)(?::(\d{1,6}))?$/;

export function createNotices(isProduction: boolean) {
  const name = isProduction ? '__Host-notice' : 'notice';
  const options = { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction } as const;

  const read: RequestHandler = (req, res, next) => {
    const value: unknown = req.signedCookies?.[name];
    if (value !== undefined) {
      res.clearCookie(name, options);
      const [, key, count] = (typeof value === 'string' && VALUE.exec(value)) || [];
      if (key && Object.hasOwn(NOTICES, key)) {
        res.locals.notice = NOTICES[key as NoticeKey];
        if (count !== undefined) res.locals.noticeParams = { count: Number(count) };
      }
    }
    next();
  };

  return {
    read,
    set: (res: Response, key: NoticeKey, count?: number) =>
      res.cookie(name, count === undefined ? key : `${key}:${count}`, { ...options, signed: true, maxAge: 60_000 }),
  };
}
