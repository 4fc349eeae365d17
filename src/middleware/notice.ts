import type { RequestHandler, Response } from 'express';
import type { MessageKey } from '../utils/i18n.js';

// One-time messages after a redirect. The cookie holds a key, never free text, and is signed.
export const NOTICES = {
  registered: 'notice.registered',
  loggedOut: 'notice.loggedOut',
  accountLocked: 'notice.accountLocked',
  accountUnlocked: 'notice.accountUnlocked',
  accountSessionsEnded: 'notice.accountSessionsEnded',
  passwordChanged: 'password.changed',
  accountDeleted: 'delete.done',
} as const satisfies Record<string, MessageKey>;

export type NoticeKey = keyof typeof NOTICES;
export type Notices = ReturnType<typeof createNotices>;

export function createNotices(isProduction: boolean) {
  const name = isProduction ? '__Host-notice' : 'notice';
  const options = { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction } as const;

  const read: RequestHandler = (req, res, next) => {
    const key: unknown = req.signedCookies?.[name];
    if (key !== undefined) {
      res.clearCookie(name, options);
      if (typeof key === 'string' && Object.hasOwn(NOTICES, key)) res.locals.notice = NOTICES[key as NoticeKey];
    }
    next();
  };

  return {
    read,
    set: (res: Response, key: NoticeKey) => res.cookie(name, key, { ...options, signed: true, maxAge: 60_000 }),
  };
}
