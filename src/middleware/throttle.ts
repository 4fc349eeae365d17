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

/** Reserves the attempt (counted as a failure until it proves otherwise); a spent limit is 429, even for the right password. */
export function createThrottleLogin(limits: RateLimits, idTag: IdTag): RequestHandler {
  return async (req, res, next) => {
    const reservation = await limits.reserveLogin(req.body.id, clientNetwork(req));
    if (reservation.window !== undefined) {
      res.locals.loginWindow = reservation.window;
      return next();
    }
    authEvent(req, 'login.throttled', { idTag: idTag(req.body.id), waitMs: reservation.waitMs });
    next(tooMany(reservation.waitMs, loginForm(req)));
  };
}

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

/** Settles a reserved login: a wrong password keeps its count, a success resets the pair, an outage is refunded. */
export type LoginOutcome = (req: Request, res: Response, outcome: 'succeeded' | 'unchecked') => Promise<void>;

export const loginOutcome =
  (limits: RateLimits): LoginOutcome =>
  (req, res, outcome) =>
    limits.releaseLogin(req.body.id, clientNetwork(req), res.locals.loginWindow ?? '', outcome);
