import type { RequestHandler } from 'express';
import type passport from 'passport';
import type { User } from '../models/user.js';
import { LOGIN_FAILED, loginFailure } from './validate.js';

/** Runs the `local-login` strategy without sessions; the accepted account goes to res.locals.account. */
export function createLocalLogin(authenticator: passport.Authenticator): RequestHandler {
  return (req, res, next) => {
    const done = (err: unknown, account: User | false) => {
      if (err) return next(err);
      if (!account) return next(loginFailure(req, 401, LOGIN_FAILED));
      res.locals.account = account;
      next();
    };
    authenticator.authenticate('local-login', { session: false }, done)(req, res, next);
  };
}
