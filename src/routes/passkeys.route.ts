import { Router, type Request } from 'express';
import { createPasskeysController } from '../controllers/passkeys.controller.js';
import { noStore } from '../middleware/headers.js';
import { postsBelongTo } from '../middleware/language.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import { createThrottlePasskey, createThrottlePasskeyOptions, createThrottleReauth } from '../middleware/throttle.js';
import { CHALLENGE_TTL_MS } from '../models/passkeys.js';
import { createPasskeyService } from '../services/passkeys.service.js';
import { createChallenges } from '../utils/challenges.js';
import { HttpError } from '../utils/httpError.js';
import type { AreaParts } from './areaParts.js';

/**
 * Passkeys (mounted under /user): the account's list; adding, renaming and removing one (from a confirmed
 * session); the login with one; confirming a session with one. The RP ID is the host name of the site's origin
 * (PUBLIC_ORIGIN, else the request's host as TRUST_PROXY allows).
 */
export function passkeysArea(
  deps: Pick<
    AreaParts,
    | 'config'
    | 'passkeyModel'
    | 'users'
    | 'auth'
    | 'accountChanges'
    | 'confirmation'
    | 'confirmationSteps'
    | 'limits'
    | 'idTag'
    | 'cookies'
    | 'notices'
    | 'jwtAuth'
    | 'csrf'
    | 'acceptForm'
  >,
): Router {
  const { jwtAuth, acceptForm, limits, idTag } = deps;
  const { provideToken: formToken, ownOrigins } = deps.csrf;
  const challenges = createChallenges(deps.config.secrets.cookie, CHALLENGE_TTL_MS);
  const { users, auth, confirmation, accountChanges } = deps;
  const service = createPasskeyService({ passkeys: deps.passkeyModel, users, auth, confirmation, challenges, accountChanges });
  const relyingParty = (req: Request) => {
    try {
      const origins = ownOrigins(req);
      return { rpId: new URL(origins[0]).hostname, origins };
    } catch {
      throw new HttpError(400, 'error.badRequest'); // a Host header that names no host
    }
  };
  const passkeys = createPasskeysController({ passkeys: service, cookies: deps.cookies, notices: deps.notices, relyingParty });
  const loggedIn = [jwtAuth, requireLogin];
  const confirmed = [...loggedIn, deps.confirmationSteps.requireConfirmed('/user/passkeys')];

  const router = Router();
  router.use(['/passkeys', '/login/passkey', '/confirm/passkey'], noStore);
  router.use('/passkeys', postsBelongTo('/user/passkeys'));
  router.use('/login/passkey', postsBelongTo('/user/login'));
  router.use('/confirm/passkey', postsBelongTo('/user/confirm'));
  router.get('/passkeys', loggedIn, deps.notices.read, formToken, passkeys.renderPasskeysPage);
  router.post('/passkeys/options', acceptForm, confirmed, passkeys.registrationOptions);
  router.post('/passkeys', acceptForm, confirmed, passkeys.register);
  router.post('/passkeys/rename', acceptForm, confirmed, passkeys.rename);
  router.post('/passkeys/remove', acceptForm, confirmed, passkeys.remove);
  router.post('/login/passkey/options', acceptForm, createThrottlePasskeyOptions(limits), passkeys.loginOptions);
  router.post('/login/passkey', acceptForm, createThrottlePasskey(limits, idTag), passkeys.login);
  router.post('/confirm/passkey/options', acceptForm, loggedIn, passkeys.confirmOptions);
  router.post('/confirm/passkey', acceptForm, loggedIn, createThrottleReauth(limits, idTag), passkeys.confirm);
  return router;
}
