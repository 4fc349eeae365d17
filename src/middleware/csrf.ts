import type { Request, RequestHandler } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import { HttpError } from '../utils/httpError.js';

const refusal = () => new HttpError(403, 'csrf.refused');

/** True when the browser says the request comes from another site (or an opaque origin). */
function isCrossSite(req: Request): boolean {
  if (req.get('sec-fetch-site') === 'cross-site') return true;
  const origin = req.get('origin');
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.get('host');
  } catch {
    return true; // `null` and other opaque origins
  }
}

/**
 * Login CSRF included: a double-submit token (csrf-csrf) on every form, and an Origin / Sec-Fetch-Site check.
 * The token is bound to no session (there is none before login); the __Host- cookie prefix in production keeps
 * a sibling subdomain from planting a cookie of its own.
 */
export function createCsrf({ secret, isProduction }: { secret: string; isProduction: boolean }) {
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => secret,
    getSessionIdentifier: () => '',
    cookieName: isProduction ? '__Host-csrf' : 'csrf',
    cookieOptions: { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction },
    getCsrfTokenFromRequest: (req) => (typeof req.body?._csrf === 'string' ? req.body._csrf : req.get('x-csrf-token')),
  });

  /** Runs on form posts before the body is read: refuses those sent from other sites. */
  const sameSiteOnly: RequestHandler = (req, _res, next) => next(isCrossSite(req) ? refusal() : undefined);

  const requireToken: RequestHandler = (req, res, next) => doubleCsrfProtection(req, res, (err?: unknown) => next(err ? refusal() : undefined));

  /** Only pages that render a form pay for a token. */
  const provideToken: RequestHandler = (req, res, next) => {
    res.locals.csrfToken = generateCsrfToken(req, res);
    next();
  };

  return { sameSiteOnly, requireToken, provideToken };
}
