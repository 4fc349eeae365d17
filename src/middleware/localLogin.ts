import type { RequestHandler } from 'express';
import type passport from 'passport';
import type { User } from '../models/user.js';
import { authEvent, type IdTag } from './requestLog.js';
import { HttpError } from '../utils/httpError.js';

/**
 * Runs the `local-login` strategy without sessions, after the login throttle reserved the attempt; the accepted
 * account goes to res.locals.account.
 */
export function createLocalLogin(authenticator: passport.Authenticator, idTag: IdTag): RequestHandler {
  return (req, res, next) => {
    const done = async (err: unknown, account: User | false) => {
      try {
        // The attempt was counted as failed when it was reserved: only a success or an outage changes that.
        if (err || account) await res.locals.settleAttempt!(err ? 'unchecked' : 'succeeded');
      } catch (storeErr) {
        return next(err ?? storeErr);
      }
      if (err) return next(err);
      if (!account) {
        authEvent(req, 'login.failed', { idTag: idTag(req.body.id) });
        return next(new HttpError(401, 'login.failed'));
      }
      res.locals.account = account;
      next();
    };
    authenticator.authenticate('local-login', { session: false }, done)(req, res, next);
  };
}
