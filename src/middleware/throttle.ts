import type { Request, RequestHandler } from 'express';
import type { RateLimits } from '../models/rateLimits.js';
import { clientIp } from '../utils/http.js';
import { HttpError, type FormContext } from '../utils/httpError.js';
import { authEvent } from './requestLog.js';
import { loginForm } from './validate.js';

/** 429 with Retry-After, and the form again with a message that says how long to wait. */
function tooMany(waitMs: number, form: FormContext): HttpError {
  const params = { minutes: Math.max(1, Math.ceil(waitMs / 60_000)) };
  return new HttpError(429, 'throttle.wait', { params, form, headers: { 'Retry-After': String(Math.ceil(waitMs / 1000)) } });
}

/** Locked logins get 429 before any password is checked, even the right one. */
export function createThrottleLogin(limits: RateLimits): RequestHandler {
  return async (req, _res, next) => {
    const wait = await limits.loginWaitMs(req.body.id, clientIp(req));
    if (wait === 0) return next();
    authEvent(req, 'login.throttled', { id: req.body.id, waitMs: wait });
    next(tooMany(wait, loginForm(req)));
  };
}

/** Counts every registration attempt that passed validation, taken ids included. */
export function createThrottleRegister(limits: RateLimits): RequestHandler {
  return async (req, res, next) => {
    const wait = await limits.registrationWaitMs(clientIp(req));
    if (wait === 0) return next();
    authEvent(req, 'register.throttled', { waitMs: wait });
    const { id = '', name = '' } = res.locals.registration ?? {};
    next(tooMany(wait, { view: 'register', values: { id, name } }));
  };
}

export interface LoginOutcome {
  failed(req: Request): Promise<void>;
  succeeded(req: Request): Promise<void>;
}

/** A failed login counts against its (id, IP) pair and its IP; a success resets the pair. */
export const loginOutcome = (limits: RateLimits): LoginOutcome => ({
  failed: (req) => limits.loginFailed(req.body.id, clientIp(req)),
  succeeded: (req) => limits.loginSucceeded(req.body.id, clientIp(req)),
});
