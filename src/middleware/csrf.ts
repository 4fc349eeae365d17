import type { Request, RequestHandler } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import { HttpError } from '../utils/httpError.js';
import { field } from './validate.js';

const SESSION_TOKENS_KEPT = 10_000;

const refusal = () => new HttpError(403, 'csrf.refused');

/**
 * The origins of the site's own pages: PUBLIC_ORIGIN when set; else the request's host (the forwarded one only
 * when TRUST_PROXY vouches for it), with either scheme, since a proxy that ends TLS may not say which.
 */
export function ownOrigins(req: Request, publicOrigin: string | undefined): string[] {
  if (publicOrigin) return [publicOrigin];
  // Read with each scheme, `host:443` and `host` are the same origin.
  return ['https:', 'http:'].map((scheme) => new URL(`${scheme}//${req.host}`).origin);
}

/** The one origin links to the site take (in mails): PUBLIC_ORIGIN, else the request's own, by the scheme it came with. */
export function siteOrigin(req: Request, publicOrigin: string | undefined): string {
  if (publicOrigin) return publicOrigin;
  try {
    return new URL(`${req.protocol}://${req.host}`).origin;
  } catch {
    throw new HttpError(400, 'error.badRequest'); // a Host header that names no host
  }
}

/** True when the browser says the request comes from another site (or an opaque origin). */
function isCrossSite(req: Request, publicOrigin: string | undefined): boolean {
  if (req.get('sec-fetch-site') === 'cross-site') return true;
  const origin = req.get('origin');
  if (origin === undefined) return false;
  try {
    return !ownOrigins(req, publicOrigin).includes(publicOrigin ? origin : new URL(origin).origin);
  } catch {
    return true; // `null` and other opaque origins, or a Host that is no host
  }
}

/**
 * Login CSRF included: a double-submit token (csrf-csrf) on every form, and an Origin / Sec-Fetch-Site check.
 * The token is bound to no session (there is none before login); the __Host- cookie prefix in production keeps
 * a sibling subdomain from planting a cookie of its own.
 */
export function createCsrf({ secret, isProduction, publicOrigin }: { secret: string; isProduction: boolean; publicOrigin?: string | undefined }) {
  const cookieName = isProduction ? '__Host-csrf' : 'csrf';
  const cookieOptions = { httpOnly: true, sameSite: 'strict', path: '/', secure: isProduction } as const;
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => secret,
    getSessionIdentifier: () => '',
    cookieName,
    cookieOptions,
    getCsrfTokenFromRequest: (req) => field(req, '_csrf') || req.get('x-csrf-token'),
  });

  /** Runs on form posts before the body is read: refuses those sent from other sites. */
  const sameSiteOnly: RequestHandler = (req, _res, next) => next(isCrossSite(req, publicOrigin) ? refusal() : undefined);

  const requireToken: RequestHandler = (req, res, next) => doubleCsrfProtection(req, res, (err?: unknown) => next(err ? refusal() : undefined));

  /** Only pages that render a form pay for a token. */
  const provideToken: RequestHandler = (req, res, next) => {
    res.locals.csrfToken = generateCsrfToken(req, res);
    next();
  };

  // The info page is the hot path: a session's logout token is made once (random bytes and an HMAC) and reused.
  const sessionTokens = new Map<string, string>();
  const provideSessionToken: RequestHandler = (req, res, next) => {
    const sid: string = res.locals.user!.sid;
    let token = sessionTokens.get(sid);
    if (token === undefined) {
      token = generateCsrfToken(req, res);
      if (sessionTokens.size >= SESSION_TOKENS_KEPT) sessionTokens.delete(sessionTokens.keys().next().value!);
      sessionTokens.set(sid, token);
    } else if (req.cookies?.[cookieName] !== token) {
      res.cookie(cookieName, token, cookieOptions);
    }
    res.locals.csrfToken = token;
    next();
  };

  return {
    sameSiteOnly,
    requireToken,
    provideToken,
    provideSessionToken,
    ownOrigins: (req: Request) => ownOrigins(req, publicOrigin),
    siteOrigin: (req: Request) => siteOrigin(req, publicOrigin),
  };
}

/**
 * A GET that changes state (the tutorial's logout link) is followed only from our own pages or typed by the
 * person: SameSite=Strict still sends cookies from a sibling subdomain (`Sec-Fetch-Site: same-site`), so an
 * <img> there could log people out. Old browsers send no Sec-Fetch-Site and are let through.
 */
export const ownPagesOnly: RequestHandler = (req, res, next) =>
  ['same-origin', 'none', undefined].includes(req.get('sec-fetch-site')) ? next() : res.redirect(303, '/user/login');
