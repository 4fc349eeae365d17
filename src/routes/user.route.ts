import { Router, type RequestHandler } from 'express';
import type { createUserController } from '../controllers/user.controller.js';
import { validateLogin, validateRegister } from '../middleware/validate.js';

// Every answer under /user is personal or about authentication: never cache it.
const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};

export function userRoutes({ userController: user, jwtAuth, localLogin }: {
  userController: ReturnType<typeof createUserController>;
  jwtAuth: RequestHandler;
  localLogin: RequestHandler;
}): Router {
  const router = Router();
  router.use(noStore);
  router.get('/register', jwtAuth, user.renderRegisterPage);
  router.post('/register', validateRegister, user.register);
  router.get('/login', jwtAuth, user.renderLoginPage);
  router.post('/login', validateLogin, localLogin, user.login);
  router.get('/info', jwtAuth, user.renderInfoPage);
  router.get('/logout', user.logout);
  router.post('/logout', user.logout);
  return router;
}
