import type { RequestHandler } from 'express';
import { HttpError } from '../utils/httpError.js';

const ACCEPTED = ['application/x-www-form-urlencoded', 'application/json'];

/** A request body that is neither a form nor JSON is refused (415) before anything reads it. */
export const formOrJsonOnly: RequestHandler = (req, _res, next) => {
  const hasContent = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
  if (hasContent && !req.is(ACCEPTED)) return next(new HttpError(415, 'error.formOrJson'));
  next();
};

/**
 * After the parsers: a body that holds no fields (none was sent, so the parsers left none; a JSON array) reads as
 * an empty form, so that every reader finds its fields missing instead of reading a property of nothing.
 */
export const bodyAsFields: RequestHandler = (req, _res, next) => {
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) req.body = {};
  next();
};
