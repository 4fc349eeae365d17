import type { Request, RequestHandler, Response } from 'express';
import type { RateLimits } from '../models/rateLimits.js';
import { clientNetwork } from '../utils/http.js';
import { tooMany } from '../utils/httpError.js';
import { authEvent, type AuthEvent, type IdTag } from './requestLog.js';
import { field } from './validate.js';

/** Whose password a request tries. */
type AccountOf = (req: Request, res: Response) => string;

/**
 * Reserves a password attempt of (account, network) before the password is checked, so that parallel guesses
 * cannot outrun the limit: it counts as failed until `res.locals.settleAttempt` says otherwise. A spent limit is
 * 429, even for the right password.
 */
function createThrottlePassword(limits: RateLimits, idTag: IdTag, accountOf: AccountOf): RequestHandler {
  return async (req, res, next) => {
    const id = accountOf(req, res);
    const network = clientNetwork(req);
    const reservation = await limits.reserveLogin(id, network);
    if (reservation.window !== undefined) {
      const { window } = reservation;
      res.locals.settleAttempt = (outcome) => limits.releaseLogin(id, network, window, outcome);
      // Should this one fail, the next failure locks the pair: the page says so (the same for any id).
      if (reservation.failuresLeft === 1) res.locals.lockAfterNextFailure = { minutes: Math.ceil(limits.loginLockMs / 60_000) };
      return next();
    }
    authEvent(req, 'login.throttled', { idTag: idTag(id), waitMs: reservation.waitMs });
    next(tooMany(reservation.waitMs));
  };
}

/** Login: the id typed into the form. */
export const createThrottleLogin = (limits: RateLimits, idTag: IdTag): RequestHandler => createThrottlePassword(limits, idTag, (req) => field(req, 'id'));

/**
 * A logged-in person's password re-check (password change, deletion) counts as a login of their own id from
 * their network: a stolen access cookie is no way around the login limits.
 */
export const createThrottleReauth = (limits: RateLimits, idTag: IdTag): RequestHandler =>
  createThrottlePassword(limits, idTag, (_req, res) => res.locals.user!.id);

/** A login's second step: a wrong code counts as a failed login of the waiting login's account from this network. */
export const createThrottleSecondFactor = (limits: RateLimits, idTag: IdTag): RequestHandler =>
  createThrottlePassword(limits, idTag, (_req, res) => res.locals.waitingLogin!.login.userId);

// Not a possible id (ids are letters, digits and `_`): passkey logins of a network share one counter of their own.
const PASSKEY_ATTEMPTS = '#passkey';

/** A passkey login names no id: it counts against the network's limits under one id of its own. */
export const createThrottlePasskey = (limits: RateLimits, idTag: IdTag): RequestHandler => createThrottlePassword(limits, idTag, () => PASSKEY_ATTEMPTS);

/** Counts each request of one kind per network (`waitMs` spends one); 429 once the window's allowance is spent. */
function createThrottleByNetwork(waitMsOf: (network: string) => Promise<number>, event: AuthEvent): RequestHandler {
  return async (req, _res, next) => {
    const wait = await waitMsOf(clientNetwork(req));
    if (wait === 0) return next();
    authEvent(req, event, { waitMs: wait });
    next(tooMany(wait));
  };
}

/** Counts every registration attempt that passed validation, taken ids included. */
export const createThrottleRegister = (limits: RateLimits): RequestHandler => createThrottleByNetwork(limits.registrationWaitMs, 'register.throttled');

/** Passkey login options need no login: a network gets so many a minute. */
export const createThrottlePasskeyOptions = (limits: RateLimits): RequestHandler =>
  createThrottleByNetwork(limits.passkeyOptionsWaitMs, 'passkey.options_throttled');

/** Forgotten-password requests: RESET_MAX_PER_IP an hour per network (a mail each at most). */
export const createThrottleForgot = (limits: RateLimits): RequestHandler => createThrottleByNetwork(limits.forgotWaitMs, 'forgot.throttled');
