import { Router, type RequestHandler } from 'express';
import type { createUserController } from '../controllers/user.controller.js';
import { redirectLoggedIn } from '../middleware/jwt_auth.js';
import { validateLogin, validateRegister } from '../middleware/validate.js';

// Every answer under /user is personal or about authentication: never cache it.
const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};

export function userRoutes({ userController: user, jwtAuth, formToken, throttleLogin, throttleRegister, localLogin }: {
  userController: ReturnType<typeof createUserController>;
  jwtAuth: RequestHandler;
  throttleLogin: RequestHandler;
  throttleRegister: RequestHandler;
  localLogin: RequestHandler;
  /** Puts a CSRF token on the pages that render a form (and on posts that may render it again). */
  formToken: RequestHandler;
}): Router {
  const router = Router();
  router.use(noStore);
  router.get('/register', jwtAuth, redirectLoggedIn, formToken, user.renderRegisterPage);
  router.post('/register', formToken, validateRegister, throttleRegister, user.register);
  router.get('/login', jwtAuth, redirectLoggedIn, formToken, user.renderLoginPage);
  router.post('/login', formToken, validateLogin, throttleLogin, localLogin, user.login);
  router.get('/info', jwtAuth, user.renderInfoPage);
  router.get('/logout', user.logout);
  router.post('/logout', user.logout);
  return router;
}
