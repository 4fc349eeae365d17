import type { Request, RequestHandler, Response } from 'express';
import { HttpError, type FieldErrors } from '../utils/httpError.js';
import type { MessageKey } from '../utils/i18n.js';
import { checkNewPassword, checkRegistration, isPlausibleLogin, normalisedEmail, textField } from '../utils/inputRules.js';

/** A text field of the posted form ('' when missing or not text); every handler reads the form's text through it. */
export const field = (req: Request, name: string): string => textField(req.body, name);

const invalid = (message: MessageKey, errors: FieldErrors): HttpError => new HttpError(400, message, { errors });

export const validateRegister: RequestHandler = (req, res, next) => {
  const { registration, errors } = checkRegistration(req.body);
  if (Object.keys(errors).length > 0) return next(invalid('register.invalid', errors));
  res.locals.registration = registration;
  next();
};

export const validateLogin: RequestHandler = (req, _res, next) => {
  const id = field(req, 'id');
  const password = field(req, 'password');
  const errors: FieldErrors = {};
  if (!id) errors.id = 'login.idRequired';
  if (!password) errors.password = 'login.passwordRequired';
  if (Object.keys(errors).length > 0) return next(invalid('login.missing', errors));
  // No account can match, so skip the password hashing and fail as any wrong password does.
  if (!isPlausibleLogin(id, password)) return next(new HttpError(401, 'login.failed'));
  next();
};

/** A form of the account pages with errors on its fields (every field there is a password or a code). */
export const invalidAccountForm = (errors: FieldErrors): HttpError => invalid('register.invalid', errors);

/** The proof a form asks for: the password in `passwordField`, and a code when the account has TOTP (`asksCode`). */
function proofErrors(req: Request, res: Response, passwordField: string, missing: MessageKey): FieldErrors {
  const errors: FieldErrors = {};
  if (!field(req, passwordField)) errors[passwordField] = missing;
  if (res.locals.asksCode && !field(req, 'code').trim()) errors.code = 'twoFactor.codeRequired';
  return errors;
}

/** After requireLogin: the proof, and a new password by the registration's rules for this account's id, not the current one. */
export const validatePasswordChange: RequestHandler = (req, res, next) => {
  const errors = { ...proofErrors(req, res, 'currentPassword', 'password.currentRequired'), ...checkNewPassword(req.body, res.locals.user!.id) };
  if (!errors.password && field(req, 'password') === field(req, 'currentPassword')) errors.password = 'password.sameAsCurrent';
  next(Object.keys(errors).length > 0 ? invalidAccountForm(errors) : undefined);
};

/** The deletion, turning TOTP off and confirming it's you: the password, and the code when the account has TOTP. */
export const validateProof: RequestHandler = (req, res, next) => {
  const errors = proofErrors(req, res, 'password', 'login.passwordRequired');
  next(Object.keys(errors).length > 0 ? invalidAccountForm(errors) : undefined);
};

/** A code form (TOTP or recovery code): an empty code costs no try. */
export const validateCode: RequestHandler = (req, _res, next) =>
  next(field(req, 'code').trim() ? undefined : invalidAccountForm({ code: 'twoFactor.codeRequired' }));

/** The email page: an address by the input rule, normalised into `res.locals.emailAddress`. */
export const validateEmail: RequestHandler = (req, res, next) => {
  const typed = field(req, 'email').trim();
  const address = typed ? normalisedEmail(typed) : undefined;
  if (!address) return next(invalid('register.invalid', { email: typed ? 'field.email.invalid' : 'field.email.required' }));
  res.locals.emailAddress = address;
  next();
};

/** "Forgot my password": an id or an address, anything but nothing (whatever it is, the answer is the same). */
export const validateForgot: RequestHandler = (req, _res, next) =>
  next(field(req, 'login').trim() ? undefined : invalid('forgot.loginRequired', { login: 'forgot.loginRequired' }));

/** After the reset link was read: a new password by the registration's rules for the link's account. */
export const validateReset: RequestHandler = (req, res, next) => {
  const errors = checkNewPassword(req.body, res.locals.resetLink!.userId);
  next(Object.keys(errors).length > 0 ? invalidAccountForm(errors) : undefined);
};
