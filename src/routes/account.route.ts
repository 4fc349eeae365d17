import { Router, type RequestHandler } from 'express';
import { createAccountController } from '../controllers/account.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import type { Notices } from '../middleware/notice.js';
import type { IdTag } from '../middleware/requestLog.js';
import { createThrottleReauth } from '../middleware/throttle.js';
import { validateDelete, validatePasswordChange } from '../middleware/validate.js';
import type { RateLimits } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { UserModel } from '../models/user.js';
import { createAccountService } from '../services/account.service.js';
import type { AuthService } from '../services/auth.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import type { Passwords } from '../utils/password.js';

/** Password change and account deletion (mounted under /user): each re-checks the password under the login limits. */
export function accountRoutes(deps: {
  users: UserModel;
  sessions: RefreshSessions;
  auth: AuthService;
  passwords: Passwords;
  limits: RateLimits;
  idTag: IdTag;
  cookies: AuthCookies;
  notices: Notices;
  jwtAuth: RequestHandler;
  /** Puts a CSRF token on the pages that render a form (and on posts that may render it again). */
  formToken: RequestHandler;
  /** Refuses cross-site posts, reads the body (form or JSON, 10 kB) and checks the CSRF token. */
  acceptForm: RequestHandler[];
}): Router {
  const { jwtAuth, formToken, acceptForm } = deps;
  const account = createAccountController({ account: createAccountService(deps), cookies: deps.cookies, notices: deps.notices });
  const throttleReauth = createThrottleReauth(deps.limits, deps.idTag);
  const loggedIn = [jwtAuth, requireLogin];

  const router = Router();
  router.use(noStore);
  router.get('/password', loggedIn, formToken, account.renderPasswordPage);
  router.post('/password', acceptForm, loggedIn, formToken, validatePasswordChange, throttleReauth, account.changePassword, account.passwordFormAgain);
  router.get('/delete', loggedIn, formToken, account.renderDeletePage);
  router.post('/delete', acceptForm, loggedIn, formToken, validateDelete, throttleReauth, account.deleteAccount, account.deleteFormAgain);
  return router;
}
