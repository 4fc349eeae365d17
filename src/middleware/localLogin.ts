import type { RequestHandler } from 'express';
import type passport from 'passport';
import type { User } from '../models/user.js';
import { authEvent, type IdTag } from './requestLog.js';
import { field } from './validate.js';
import { HttpError } from '../utils/httpError.js';

/**
 * Runs the `local-login` strategy without sessions, after the login throttle reserved the attempt; the accepted
 * account goes to res.locals.account.
 */
export function createLocalLogin(authenticator: passport.Authenticator, idTag: IdTag): RequestHandler {
  return (req, res, next) => {
    const done = (err: unknown, account: User | false) => {
      const settle = res.locals.settleAttempt!;
      // The attempt was counted as failed when it was reserved: only a success or an outage changes that.
      if (err)
        return void settle('unchecked').then(
          () => next(err),
          () => next(err),
        );
      if (!account) {
        authEvent(req, 'login.failed', { idTag: idTag(field(req, 'id')) });
        const lastTry = res.locals.lockAfterNextFailure;
        return next(new HttpError(401, lastTry ? 'login.failedLastTry' : 'login.failed', { params: lastTry }));
      }
      res.locals.account = account;
      // A success is released in the same round trip as the session's start, which awaits it (login controller).
      // With a second factor the password alone is no success: its point is given back, the failures stay counted.
      res.locals.loginReleased = settle(account.hasTotp ? 'unchecked' : 'succeeded');
      res.locals.loginReleased.catch(() => undefined); // a refused login (locked) does not await it
      next();
    };
    authenticator.authenticate('local-login', { session: false }, done)(req, res, next);
  };
}
