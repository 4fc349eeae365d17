import { Router, type Request, type RequestHandler } from 'express';
import { createPasskeysController } from '../controllers/passkeys.controller.js';
import type { Db, Redis } from '../config/clients.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import type { Notices } from '../middleware/notice.js';
import type { IdTag } from '../middleware/requestLog.js';
import { createThrottlePasskey } from '../middleware/throttle.js';
import { createPasskeyModel } from '../models/passkeys.js';
import type { RateLimits } from '../models/rateLimits.js';
import type { UserModel } from '../models/user.js';
import type { AuthService } from '../services/auth.service.js';
import { createPasskeyService } from '../services/passkeys.service.js';
import { HttpError } from '../utils/httpError.js';
import type { AuthCookies } from '../utils/authCookies.js';

/**
 * Passkeys (mounted under /user): the account's list, adding and removing one, and the login with one. The RP ID
 * is the host name of the site's origin (PUBLIC_ORIGIN, else the request's host as TRUST_PROXY allows).
 */
export function passkeysArea(deps: {
  db: Db;
  redis: Redis;
  keyPrefix: string;
  users: UserModel;
  auth: AuthService;
  limits: RateLimits;
  idTag: IdTag;
  cookies: AuthCookies;
  notices: Notices;
  jwtAuth: RequestHandler;
  formToken: RequestHandler;
  acceptForm: RequestHandler[];
  /** The origins of the site's own pages, as the CSRF check accepts them. */
  ownOrigins: (req: Request) => string[];
}): Router {
  const { jwtAuth, formToken, acceptForm, ownOrigins } = deps;
  const service = createPasskeyService({ passkeys: createPasskeyModel(deps.db, deps.redis, deps.keyPrefix), users: deps.users, auth: deps.auth });
  const relyingParty = (req: Request) => {
    try {
      const origins = ownOrigins(req);
      return { rpId: new URL(origins[0]).hostname, origins };
    } catch {
      throw new HttpError(400, 'error.badRequest'); // a Host header that names no host
    }
  };
  const passkeys = createPasskeysController({ passkeys: service, cookies: deps.cookies, notices: deps.notices, relyingParty });
  const throttlePasskey = createThrottlePasskey(deps.limits, deps.idTag);
  const loggedIn = [jwtAuth, requireLogin];

  const router = Router();
  router.use(['/passkeys', '/login/passkey'], noStore);
  router.get('/passkeys', loggedIn, deps.notices.read, formToken, passkeys.renderPasskeysPage);
  router.post('/passkeys/options', acceptForm, loggedIn, passkeys.registrationOptions);
  router.post('/passkeys', acceptForm, loggedIn, passkeys.register);
  router.post('/passkeys/remove', acceptForm, loggedIn, passkeys.remove);
  router.post('/login/passkey/options', acceptForm, passkeys.loginOptions);
  router.post('/login/passkey', acceptForm, throttlePasskey, passkeys.login);
  return router;
}
