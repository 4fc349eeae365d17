import { Router, type Request, type RequestHandler } from 'express';
import { createPasskeysController } from '../controllers/passkeys.controller.js';
import type { Db, Redis } from '../config/clients.js';
import type { Config } from '../config/index.js';
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
  config: Pick<Config, 'redisKeyPrefix'>;
  users: UserModel;
  auth: AuthService;
  limits: RateLimits;
  idTag: IdTag;
  cookies: AuthCookies;
  notices: Notices;
  jwtAuth: RequestHandler;
  /** `provideToken` puts a CSRF token on the page; `ownOrigins` are the site's origins as the CSRF check accepts them. */
  csrf: { provideToken: RequestHandler; ownOrigins: (req: Request) => string[] };
  /** Refuses cross-site posts, reads the body (form or JSON, 10 kB) and checks the CSRF token. */
  acceptForm: RequestHandler[];
}): Router {
  const { jwtAuth, acceptForm } = deps;
  const { provideToken: formToken, ownOrigins } = deps.csrf;
  const passkeyModel = createPasskeyModel(deps.db, deps.redis, deps.config.redisKeyPrefix);
  const service = createPasskeyService({ passkeys: passkeyModel, users: deps.users, auth: deps.auth });
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
