import type { Request, RequestHandler } from 'express';
import { HttpError, type FieldErrors, type FormContext } from '../utils/httpError.js';
import type { MessageKey } from '../utils/i18n.js';
import { checkNewPassword, checkRegistration, isPlausibleLogin } from '../utils/inputRules.js';
import { safeNextPath } from '../utils/http.js';

export const LOGIN_FAILED: MessageKey = 'login.failed';

const field = (req: Request, name: string): string => {
  const value: unknown = req.body?.[name];
  return typeof value === 'string' ? value : '';
};

/** The login form shown again: the id and the `next` target are kept, the password never. */
export const loginForm = (req: Request): FormContext => ({
  view: 'login',
  values: { id: field(req, 'id').slice(0, 100), next: safeNextPath(req.body?.next) ?? '' },
});

export const loginFailure = (req: Request, status: number, message: MessageKey, errors: FieldErrors = {}): HttpError =>
  new HttpError(status, message, { errors, form: loginForm(req) });

export const validateRegister: RequestHandler = (req, res, next) => {
  const { registration, values, errors } = checkRegistration(req.body ?? {});
  if (Object.keys(errors).length > 0) {
    return next(new HttpError(400, 'register.invalid', { errors, form: { view: 'register', values } }));
  }
  res.locals.registration = registration;
  next();
};

export const validateLogin: RequestHandler = (req, _res, next) => {
  const id = field(req, 'id');
  const password = field(req, 'password');
  const errors: FieldErrors = {};
  if (!id) errors.id = 'login.idRequired';
  if (!password) errors.password = 'login.passwordRequired';
  if (Object.keys(errors).length > 0) return next(loginFailure(req, 400, 'login.missing', errors));
  // No account can match, so skip the password hashing and fail as any wrong password does.
  if (!isPlausibleLogin(id, password)) return next(loginFailure(req, 401, LOGIN_FAILED));
  next();
};

/** A form of the account pages shown again: nothing is kept, every field there is a password. */
export const invalidAccountForm = (view: string, errors: FieldErrors): HttpError =>
  new HttpError(400, 'register.invalid', { errors, form: { view, values: {} } });

/** After requireLogin: the current password, and a new one by the registration's rules for this account's id. */
export const validatePasswordChange: RequestHandler = (req, res, next) => {
  const errors = checkNewPassword(req.body ?? {}, res.locals.user!.id);
  if (!field(req, 'currentPassword')) errors.currentPassword = 'password.currentRequired';
  next(Object.keys(errors).length > 0 ? invalidAccountForm('password', errors) : undefined);
};

export const validateDelete: RequestHandler = (req, _res, next) =>
  next(field(req, 'password') ? undefined : invalidAccountForm('delete', { password: 'login.passwordRequired' }));
