import type { RequestHandler } from 'express';
import type passport from 'passport';
import type { User } from '../models/user.js';
import type { LoginOutcome } from './throttle.js';
import { authEvent } from './requestLog.js';
import { LOGIN_FAILED, loginFailure } from './validate.js';

/** Runs the `local-login` strategy without sessions; the accepted account goes to res.locals.account. */
export function createLocalLogin(authenticator: passport.Authenticator, outcome: LoginOutcome): RequestHandler {
  return (req, res, next) => {
    const done = async (err: unknown, account: User | false) => {
      if (err) return next(err);
      try {
        await (account ? outcome.succeeded(req) : outcome.failed(req));
      } catch (storeErr) {
        return next(storeErr);
      }
      if (!account) {
        authEvent(req, 'login.failed', { id: req.body.id });
        return next(loginFailure(req, 401, LOGIN_FAILED));
      }
      res.locals.account = account;
      next();
    };
    authenticator.authenticate('local-login', { session: false }, done)(req, res, next);
  };
}
