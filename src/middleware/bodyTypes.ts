import type { RequestHandler } from 'express';
import { HttpError } from '../utils/httpError.js';

const ACCEPTED = ['application/x-www-form-urlencoded', 'application/json'];

/** A request body that is neither a form nor JSON is refused (415) before anything reads it. */
export const formOrJsonOnly: RequestHandler = (req, _res, next) => {
  const hasContent = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
  if (hasContent && !req.is(ACCEPTED)) return next(new HttpError(415, 'error.formOrJson'));
  next();
};
