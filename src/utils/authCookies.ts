import type { CookieOptions, Response } from 'express';

export interface TokenPair {
  access: string;
  refresh: string;
}

export type AuthCookies = ReturnType<typeof createAuthCookies>;

/** The two auth cookies; `__Host-` names and Secure in production. */
export function createAuthCookies(isProduction: boolean) {
  const prefix = isProduction ? '__Host-' : '';
  const names = { access: `${prefix}accessToken`, refresh: `${prefix}refreshToken` };
  const base: CookieOptions = { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction };

  return {
    names,
    read: (req: { cookies?: Record<string, string | undefined> }) => ({
      access: req.cookies?.[names.access],
      refresh: req.cookies?.[names.refresh],
    }),
    /**
     * Both cookies live until the session's absolute deadline, so an expired access token still arrives; a shared
     * computer's are session cookies (no Max-Age), gone with the browser (Redis ends the session anyway).
     */
    set(res: Response, { tokens, expiresAtMs, shared }: { tokens: TokenPair; expiresAtMs: number; shared: boolean }) {
      const options = shared ? base : { ...base, maxAge: Math.max(0, expiresAtMs - Date.now()) };
      res.cookie(names.access, tokens.access, options);
      res.cookie(names.refresh, tokens.refresh, options);
    },
    clear(res: Response) {
      res.clearCookie(names.access, base);
      res.clearCookie(names.refresh, base);
    },
  };
}
