import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../models/storeErrors.js';
import { HttpError, type FieldErrors } from '../utils/httpError.js';
import { wantsJson } from '../utils/http.js';
import { DEFAULT_LANG, translate, type MessageKey, type Translate } from '../utils/i18n.js';
import { speak } from './language.js';

/**
 * A form route's last handler: a failure the person can correct (a 4xx) shows `view` again with the values
 * `keep` returns (never passwords), when the form can be sent again (it has a CSRF token); the error handler
 * renders it. Controllers name their forms with it, so the choice is read where the route is.
 */
export const showFormAgain =
  (view: string, keep: (req: Request, res: Response) => Record<string, string> = () => ({})): ErrorRequestHandler =>
  (err, req, res, next) => {
    if (!(err instanceof HttpError) || err.status >= 500 || err.details.form || !res.locals.csrfToken) return next(err);
    next(new HttpError(err.status, err.key, { ...err.details, form: { view, values: keep(req, res) } }));
  };

export const notFound: RequestHandler = (_req, _res, next) => next(new HttpError(404, 'error.notFound'));

// body-parser marks its own errors (413, 400, 415) as safe to show; their wording is replaced with ours.
const BODY_ERRORS: Record<number, MessageKey> = {
  400: 'error.badRequest',
  413: 'error.tooLarge',
  415: 'error.unsupportedBody',
};

// The error page's heading names the failure; any other status gets the generic one.
const HEADINGS = new Set([400, 403, 404, 413, 415, 429, 500, 503]);
const headingOf = (status: number) => `error.title.${HEADINGS.has(status) ? status : 500}` as MessageKey;

const UNAVAILABLE_RETRY_SECONDS = '5';

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreUnavailableError) {
    const headers = { 'Retry-After': UNAVAILABLE_RETRY_SECONDS };
    return new HttpError(503, 'error.unavailable', { headers });
  }
  const { status, expose } = err as { status?: number; expose?: boolean };
  if (expose && status && BODY_ERRORS[status]) return new HttpError(status, BODY_ERRORS[status]);
  return new HttpError(500, 'error.internal');
}

const translateAll = (t: Translate, errors: FieldErrors) =>
  Object.fromEntries(Object.entries(errors).map(([field, message]) => [field, translate(t, message)]));

/**
 * The one place that turns an error into a page or JSON, in the person's language: errors carry message keys
 * and are translated only here. Nothing of the original error reaches the client.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    const failure = toHttpError(err);
    if (err instanceof StoreUnavailableError) {
      logger.warn({ reqId: req.id, store: err.store, reason: err.reason, method: req.method, path: req.path }, 'store unavailable');
    } else if (failure.status >= 500) {
      const { name, message, code, stack } = err as { name?: string; message?: string; code?: string; stack?: string };
      logger.error({ reqId: req.id, err: { name, message, code, stack }, method: req.method, path: req.path }, 'request failed');
    }
    if (res.headersSent) return next(err);
    if (!res.locals.t) speak(res, DEFAULT_LANG);
    const { t } = res.locals;
    const { params, form, headers = {}, json } = failure.details;
    const msg = t(failure.key, params);
    const errors = translateAll(t, failure.details.errors ?? {});
    res.status(failure.status).set(headers);
    if (wantsJson(req)) {
      res.json({ success: false, msg, errors, ...json });
    } else if (form) {
      res.render(form.view, { msg, errors, values: form.values });
    } else {
      res.render('error', { titleKey: headingOf(failure.status), msg });
    }
  };
}
