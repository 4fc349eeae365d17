import type { Request, RequestHandler, Response } from 'express';
import { wantsJson } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import type { AuthService, Resumed } from '../services/auth.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import { authEvent } from './requestLog.js';

/**
 * The tutorial's jwt_auth: 1 no token, 2 valid access token (no store touched), 3 expired access token with
 * a valid refresh token (rotated, new cookies), 4 anything else (cookies cleared).
 */
export function createJwtAuth(auth: AuthService, cookies: AuthCookies): RequestHandler {
  function conclude(req: Request, res: Response, result: Resumed): void {
    if (result.kind === 'ended') {
      if (result.reuse) authEvent(req, 'refresh.reuse_revoked', { user: result.reuse.id, sid: result.reuse.sid });
      cookies.clear(res);
      res.locals.sessionEnded = true;
    } else if (result.kind === 'user') {
      if (result.issued) {
        authEvent(req, 'refresh', { user: result.user.id, sid: result.user.sid, rotation: result.issued.rotation });
        cookies.set(res, result.issued);
      }
      req.user = result.user;
      res.locals.user = result.user;
    }
  }

  // Cases 1, 2 and 4 are answered in this tick; only case 3 waits for Redis.
  return (req, res, next) => {
    const result = auth.resume(cookies.read(req));
    if (result instanceof Promise) {
      result
        .then((resumed) => {
          conclude(req, res, resumed);
          next();
        })
        .catch(next);
      return;
    }
    conclude(req, res, result);
    next();
  };
}

/** After jwt_auth: the login and register pages send a logged-in visitor on to the info page. */
export const redirectLoggedIn: RequestHandler = (_req, res, next) => (res.locals.user ? res.redirect('/user/info') : next());

/** After jwt_auth: runs `handler` for a logged-in visitor only. */
export const ifLoggedIn =
  (handler: RequestHandler): RequestHandler =>
  (req, res, next) =>
    res.locals.user ? handler(req, res, next) : next();

/**
 * After jwt_auth: pages of the account need a logged-in visitor. Others are sent to log in and come back (303 to
 * /user/login?next=…); JSON clients get 401.
 */
export const requireLogin: RequestHandler = (req, res, next) => {
  if (res.locals.user) return next();
  if (wantsJson(req)) return next(new HttpError(401, 'auth.loginRequired'));
  // The contract's spelling: ?next=/user/sessions (slashes need no escaping in a query).
  res.redirect(303, req.method === 'GET' ? `/user/login?next=${encodeURIComponent(req.originalUrl).replace(/%2F/g, '/')}` : '/user/login');
};

/** After requireLogin: administrators only, as `isAdmin` says (MySQL, on every request); others get 403. */
export const requireAdmin =
  (isAdmin: (id: string) => Promise<boolean>): RequestHandler =>
  async (_req, res, next) =>
    next((await isAdmin(res.locals.user!.id)) ? undefined : new HttpError(403, 'admin.forbidden'));
