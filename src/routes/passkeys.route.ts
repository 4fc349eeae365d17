import { Router, type Request } from 'express';
import { createPasskeysController } from '../controllers/passkeys.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import { createThrottlePasskey } from '../middleware/throttle.js';
import { createPasskeyModel } from '../models/passkeys.js';
import { createPasskeyService } from '../services/passkeys.service.js';
import { HttpError } from '../utils/httpError.js';
import type { AreaParts } from './areaParts.js';

/**
 * Passkeys (mounted under /user): the account's list, adding and removing one, and the login with one. The RP ID
 * is the host name of the site's origin (PUBLIC_ORIGIN, else the request's host as TRUST_PROXY allows).
 */
export function passkeysArea(
  deps: Pick<AreaParts, 'db' | 'redis' | 'config' | 'users' | 'auth' | 'limits' | 'idTag' | 'cookies' | 'notices' | 'jwtAuth' | 'csrf' | 'acceptForm'>,
): Router {
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
  router.use('/passkeys', postsBelongTo('/user/passkeys'));
  router.use('/login/passkey', postsBelongTo('/user/login'));
  router.get('/passkeys', loggedIn, deps.notices.read, formToken, passkeys.renderPasskeysPage);
  router.post('/passkeys/options', acceptForm, loggedIn, passkeys.registrationOptions);
  router.post('/passkeys', acceptForm, loggedIn, passkeys.register);
  router.post('/passkeys/remove', acceptForm, loggedIn, passkeys.remove);
  router.post('/login/passkey/options', acceptForm, passkeys.loginOptions);
  router.post('/login/passkey', acceptForm, throttlePasskey, passkeys.login);
  return router;
}
