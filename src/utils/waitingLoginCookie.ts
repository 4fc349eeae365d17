import type { CookieOptions, Request, Response } from 'express';
import type { WaitingLoginRef } from '../models/waitingLogins.js';
import { ID_PATTERN } from './inputRules.js';

export type WaitingLoginCookie = ReturnType<typeof createWaitingLoginCookie>;

/**
 * The cookie of a login waiting for its second factor: `userId.token`, signed (COOKIE_SECRET), HttpOnly,
 * SameSite=Strict, as long as the waiting login lives; `__Host-` and Secure in production.
 */
export function createWaitingLoginCookie(isProduction: boolean, ttlMs: number) {
  const name = `${isProduction ? '__Host-' : ''}waitingLogin`;
  const options: CookieOptions = { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction };

  return {
    /** The waiting login the request names; undefined without one, or with a cookie this site did not sign. */
    read(req: Request): WaitingLoginRef | undefined {
      const value: unknown = req.signedCookies?.[name];
      if (typeof value !== 'string') return undefined;
      const [userId, token] = value.split('.');
      return ID_PATTERN.test(userId) && token && /^[\w-]{32}$/.test(token) ? { userId, token } : undefined;
    },
    /** Whether the request carries the cookie at all (a waiting login that ended leaves one behind). */
    carried: (req: Request): boolean => req.cookies?.[name] !== undefined || req.signedCookies?.[name] !== undefined,
    set: (res: Response, ref: WaitingLoginRef) => res.cookie(name, `${ref.userId}.${ref.token}`, { ...options, signed: true, maxAge: ttlMs }),
    clear: (res: Response) => res.clearCookie(name, options),
  };
}
