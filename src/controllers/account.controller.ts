import type { Request, Response } from 'express';
import type { Notices } from '../middleware/notice.js';
import { showFormAgain } from '../middleware/errors.js';
import { authEvent } from '../middleware/requestLog.js';
import { field } from '../middleware/validate.js';
import type { AccountService } from '../services/account.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import { clientOf, succeed } from '../utils/http.js';
import { refusedProof } from './refusedProof.js';

/** The account pages; they run after jwt_auth and requireLogin, the POSTs after validation and the throttle. */
export function createAccountController({ account, cookies, notices }: { account: AccountService; cookies: AuthCookies; notices: Notices }) {
  return {
    /** A failure the person can correct shows the form again; nothing is kept, every field is a password or a code. */
    passwordFormAgain: showFormAgain('password'),
    deleteFormAgain: showFormAgain('delete'),

    renderPasswordPage(_req: Request, res: Response) {
      res.render('password', { errors: {} });
    },

    renderDeletePage(_req: Request, res: Response) {
      res.render('delete', { errors: {} });
    },

    async changePassword(req: Request, res: Response) {
      const user = res.locals.user!;
      const changed = await account.changePassword({
        user,
        currentPassword: field(req, 'currentPassword'),
        code: field(req, 'code'),
        newPassword: field(req, 'password'),
        carried: cookies.read(req),
        client: clientOf(req),
        settle: res.locals.settleAttempt!,
      });
      if (!('issued' in changed)) throw refusedProof(req, changed, { field: 'currentPassword', message: 'password.currentWrong' });
      const { issued } = changed;
      cookies.set(res, issued);
      authEvent(req, 'password.changed', { user: user.id, sid: issued.user.sid });
      notices.set(res, 'passwordChanged');
      succeed(req, res, '/user/info');
    },

    async deleteAccount(req: Request, res: Response) {
      const user = res.locals.user!;
      const deleted = await account.deleteAccount({ user, password: field(req, 'password'), code: field(req, 'code'), settle: res.locals.settleAttempt! });
      if (!('deleted' in deleted)) throw refusedProof(req, deleted, { field: 'password', message: 'delete.wrongPassword' });
      authEvent(req, 'account.deleted', { user: user.id });
      cookies.clear(res);
      notices.set(res, 'accountDeleted');
      succeed(req, res, '/user/login');
    },
  };
}
