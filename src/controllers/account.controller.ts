import type { Request, Response } from 'express';
import type { Notices } from '../middleware/notice.js';
import { showFormAgain } from '../middleware/errors.js';
import { authEvent } from '../middleware/requestLog.js';
import { field, invalidAccountForm } from '../middleware/validate.js';
import type { AccountService } from '../services/account.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import type { HttpError } from '../utils/httpError.js';
import { clientOf, succeed } from '../utils/http.js';
import type { MessageKey } from '../utils/i18n.js';

/** 400 with the message on the password field (the attempt stays counted as a failed login). */
function wrongPassword(res: Response, field: string, message: MessageKey): HttpError {
  authEvent(res.req, 'reauth.failed', { user: res.locals.user!.id });
  return invalidAccountForm({ [field]: message });
}

/** The account pages; they run after jwt_auth and requireLogin, the POSTs after validation and the throttle. */
export function createAccountController({ account, cookies, notices }: { account: AccountService; cookies: AuthCookies; notices: Notices }) {
  return {
    /** A failure the person can correct shows the form again; nothing is kept, every field is a password. */
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
      const issued = await account.changePassword({
        user,
        currentPassword: field(req, 'currentPassword'),
        newPassword: field(req, 'password'),
        carried: cookies.read(req),
        client: clientOf(req),
        settle: res.locals.settleAttempt!,
      });
      if (!issued) throw wrongPassword(res, 'currentPassword', 'password.currentWrong');
      cookies.set(res, issued.tokens, issued.expiresAtMs);
      authEvent(req, 'password.changed', { user: user.id, sid: issued.user.sid });
      notices.set(res, 'passwordChanged');
      succeed(req, res, '/user/info');
    },

    async deleteAccount(req: Request, res: Response) {
      const user = res.locals.user!;
      if (!(await account.deleteAccount({ user, password: field(req, 'password'), settle: res.locals.settleAttempt! }))) {
        throw wrongPassword(res, 'password', 'delete.wrongPassword');
      }
      authEvent(req, 'account.deleted', { user: user.id });
      cookies.clear(res);
      notices.set(res, 'accountDeleted');
      succeed(req, res, '/user/login');
    },
  };
}
