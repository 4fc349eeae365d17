import { Router, type RequestHandler } from 'express';
import type { createUserController } from '../controllers/user.controller.js';
import { ownPagesOnly } from '../middleware/csrf.js';
import { noStore } from '../middleware/headers.js';
import { ifLoggedIn, redirectLoggedIn } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import { validateLogin, validateRegister } from '../middleware/validate.js';

export function userRoutes({
  userController: user,
  jwtAuth,
  readNotice,
  formToken,
  logoutToken,
  acceptForm,
  throttleLogin,
  throttleRegister,
  localLogin,
  secondStep,
}: {
  userController: ReturnType<typeof createUserController>;
  jwtAuth: RequestHandler;
  /** Shows (once) a notice left by the previous response. */
  readNotice: RequestHandler;
  /** Refuses cross-site posts, reads the body (form or JSON, 10 kB) and checks the CSRF token. */
  acceptForm: RequestHandler[];
  throttleLogin: RequestHandler;
  throttleRegister: RequestHandler;
  localLogin: RequestHandler;
  /** After the right password: an account with a second factor waits for its code instead of logging in. */
  secondStep: RequestHandler;
  /** Puts a CSRF token on the pages that render a form (and on posts that may render it again). */
  formToken: RequestHandler;
  /** The same for a logged-in visitor's logout, made once per session. */
  logoutToken: RequestHandler;
}): Router {
  const router = Router();
  // Every answer under /user is personal or about authentication: never cache it.
  router.use(noStore);
  // The logout form is on the info page (GET /user/logout would log out again).
  router.use('/logout', postsBelongTo('/user/info'));
  router.get('/info', jwtAuth, readNotice, ifLoggedIn(logoutToken), ifLoggedIn(user.securitySummary), user.renderInfoPage);
  router.get('/register', jwtAuth, redirectLoggedIn, formToken, user.renderRegisterPage);
  router.post('/register', acceptForm, formToken, validateRegister, throttleRegister, user.register, user.registerFormAgain);
  router.get('/login', jwtAuth, redirectLoggedIn, readNotice, formToken, user.renderLoginPage);
  router.post('/login', acceptForm, formToken, validateLogin, throttleLogin, localLogin, secondStep, user.login, user.loginFormAgain);
  router.get('/logout', ownPagesOnly, user.logout);
  router.post('/logout', acceptForm, user.logout);
  return router;
}
