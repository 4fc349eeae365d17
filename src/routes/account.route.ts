import { Router } from 'express';
import { createAccountController } from '../controllers/account.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import { createThrottleReauth } from '../middleware/throttle.js';
import { validatePasswordChange, validateProof } from '../middleware/validate.js';
import { createAccountService } from '../services/account.service.js';
import type { AreaParts } from './areaParts.js';

/** Password change and account deletion (mounted under /user): each asks for the proof (password, and code with TOTP) under the login limits. */
export function accountRoutes(
  deps: Pick<
    AreaParts,
    | 'users'
    | 'sessions'
    | 'auth'
    | 'passwords'
    | 'confirmation'
    | 'confirmationSteps'
    | 'limits'
    | 'idTag'
    | 'cookies'
    | 'notices'
    | 'jwtAuth'
    | 'formToken'
    | 'acceptForm'
  >,
): Router {
  const { jwtAuth, formToken, acceptForm } = deps;
  const { loadProof } = deps.confirmationSteps;
  const account = createAccountController({ account: createAccountService(deps), cookies: deps.cookies, notices: deps.notices });
  const throttleReauth = createThrottleReauth(deps.limits, deps.idTag);
  const loggedIn = [jwtAuth, requireLogin];

  const router = Router();
  router.use(noStore);
  router.get('/password', loggedIn, formToken, loadProof, account.renderPasswordPage);
  router.post(
    '/password',
    acceptForm,
    loggedIn,
    formToken,
    loadProof,
    validatePasswordChange,
    throttleReauth,
    account.changePassword,
    account.passwordFormAgain,
  );
  router.get('/delete', loggedIn, formToken, loadProof, account.renderDeletePage);
  router.post('/delete', acceptForm, loggedIn, formToken, loadProof, validateProof, throttleReauth, account.deleteAccount, account.deleteFormAgain);
  return router;
}
