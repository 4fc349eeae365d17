import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../models/storeErrors.js';
import { HttpError } from '../utils/httpError.js';
import { wantsJson } from '../utils/http.js';

export const notFound: RequestHandler = (_req, _res, next) => next(new HttpError(404, 'Page not found.'));

// body-parser marks its own errors (413, 400, 415) as safe to show; their wording is replaced with ours.
const BODY_ERRORS: Record<number, string> = {
  400: 'The request could not be read.',
  413: 'The request is too large.',
  415: 'This kind of request body is not supported.',
};

const UNAVAILABLE_RETRY_SECONDS = '5';

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreUnavailableError) {
    const headers = { 'Retry-After': UNAVAILABLE_RETRY_SECONDS };
    return new HttpError(503, 'This service is temporarily unavailable. Your session is kept; please try again in a moment.', { headers });
  }
  const { status, expose } = err as { status?: number; expose?: boolean };
  if (expose && status && BODY_ERRORS[status]) return new HttpError(status, BODY_ERRORS[status]);
  return new HttpError(500, 'Something went wrong on our side. Please try again.');
}

/** The one place that turns an error into a page or JSON. Nothing of the original error reaches the client. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    const failure = toHttpError(err);
    if (err instanceof StoreUnavailableError) {
      logger.warn({ store: err.store, reason: err.reason, method: req.method, path: req.path }, 'store unavailable');
    } else if (failure.status >= 500) {
      const { name, message, code, stack } = err as { name?: string; message?: string; code?: string; stack?: string };
      logger.error({ err: { name, message, code, stack }, method: req.method, path: req.path }, 'request failed');
    }
    if (res.headersSent) return next(err);
    const { errors = {}, form, headers = {} } = failure.details;
    res.status(failure.status).set(headers);
    if (wantsJson(req)) {
      res.json({ success: false, msg: failure.message, errors });
    } else if (form) {
      res.render(form.view, { msg: failure.message, errors, values: form.values });
    } else {
      res.render('error', { status: failure.status, msg: failure.message });
    }
  };
}
