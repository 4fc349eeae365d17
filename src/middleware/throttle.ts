import type { Request, RequestHandler, Response } from 'express';
import type { RateLimits } from '../models/rateLimits.js';
import { clientNetwork } from '../utils/http.js';
import { HttpError, type FormContext } from '../utils/httpError.js';
import { authEvent, type IdTag } from './requestLog.js';
import { loginForm } from './validate.js';

/** 429 with Retry-After, and the form again with a message that says how long to wait. */
function tooMany(waitMs: number, form: FormContext): HttpError {
  const params = { minutes: Math.max(1, Math.ceil(waitMs / 60_000)) };
  return new HttpError(429, 'throttle.wait', { params, form, headers: { 'Retry-After': String(Math.ceil(waitMs / 1000)) } });
}

/** Whose password a request tries, and the form to show again when the limit is spent. */
interface PasswordAttempt {
  accountId: (req: Request, res: Response) => string;
  form: (req: Request) => FormContext;
}

/**
 * Reserves a password attempt of (account, network) before the password is checked, so that parallel guesses
 * cannot outrun the limit: it counts as failed until `res.locals.settleAttempt` says otherwise. A spent limit is
 * 429, even for the right password.
 */
function createThrottlePassword(limits: RateLimits, idTag: IdTag, attempt: PasswordAttempt): RequestHandler {
  return async (req, res, next) => {
    const id = attempt.accountId(req, res);
    const network = clientNetwork(req);
    const reservation = await limits.reserveLogin(id, network);
    if (reservation.window !== undefined) {
      const { window } = reservation;
      res.locals.settleAttempt = (outcome) => limits.releaseLogin(id, network, window, outcome);
      return next();
    }
    authEvent(req, 'login.throttled', { idTag: idTag(id), waitMs: reservation.waitMs });
    next(tooMany(reservation.waitMs, attempt.form(req)));
  };
}

/** Login: the id typed into the form. */
export const createThrottleLogin = (limits: RateLimits, idTag: IdTag): RequestHandler =>
  createThrottlePassword(limits, idTag, { accountId: (req) => req.body.id, form: loginForm });

/**
 * A logged-in person's password re-check (password change, deletion) counts as a login of their own id from
 * their network: a stolen access cookie is no way around the login limits. `view` is the form to show again.
 */
export const createThrottleReauth =
  (limits: RateLimits, idTag: IdTag) =>
  (view: string): RequestHandler =>
    createThrottlePassword(limits, idTag, { accountId: (_req, res) => res.locals.user!.id, form: () => ({ view, values: {} }) });

/** Counts every registration attempt that passed validation, taken ids included. */
export function createThrottleRegister(limits: RateLimits): RequestHandler {
  return async (req, res, next) => {
    const wait = await limits.registrationWaitMs(clientNetwork(req));
    if (wait === 0) return next();
    authEvent(req, 'register.throttled', { waitMs: wait });
    const { id = '', name = '' } = res.locals.registration ?? {};
    next(tooMany(wait, { view: 'register', values: { id, name } }));
  };
}
