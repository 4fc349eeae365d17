import { Router, type RequestHandler } from 'express';
import { createTwoFactorController } from '../controllers/twoFactor.controller.js';
import { noStore } from '../middleware/headers.js';
import { redirectLoggedIn, requireLogin } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import { createThrottleReauth, createThrottleSecondFactor } from '../middleware/throttle.js';
import { validateCode, validateDisableTotp } from '../middleware/validate.js';
import { createSecondFactorModel } from '../models/secondFactor.js';
import { createWaitingLogins } from '../models/waitingLogins.js';
import { createTwoFactorService } from '../services/twoFactor.service.js';
import { createSecondFactorKeys } from '../utils/secondFactor.js';
import { createWaitingLoginCookie } from '../utils/waitingLoginCookie.js';
import type { AreaParts } from './areaParts.js';

/** A login waits this long for its second factor, and allows this many codes. */
const WAITING_LOGIN_MS = 5 * 60_000;
const WAITING_LOGIN_TRIES = 5;

/**
 * TOTP with recovery codes (mounted under /user): enrolment at /2fa, and the second step of a login at
 * /login/2fa. `secondStepIfEnrolled` goes into the password login's route, before its session starts.
 */
export function twoFactorArea(
  deps: Pick<
    AreaParts,
    | 'config'
    | 'db'
    | 'redis'
    | 'users'
    | 'sessions'
    | 'auth'
    | 'passwords'
    | 'limits'
    | 'idTag'
    | 'cookies'
    | 'notices'
    | 'jwtAuth'
    | 'formToken'
    | 'acceptForm'
  >,
): { router: Router; secondStepIfEnrolled: RequestHandler } {
  const { config, jwtAuth, formToken, acceptForm } = deps;
  const twoFactor = createTwoFactorService({
    ...deps,
    secondFactor: createSecondFactorModel(deps.db),
    waitingLogins: createWaitingLogins(deps.redis, {
      keyPrefix: config.redisKeyPrefix,
      ttlMs: WAITING_LOGIN_MS,
      maxTries: WAITING_LOGIN_TRIES,
      // Across all networks: rotating addresses (IPv6 /64s) buys no more guesses than this.
      maxWrongCodes: config.login.maxFailures * 2,
      wrongCodesWindowMs: config.login.failureWindowMs,
    }),
    keys: createSecondFactorKeys(config.secrets.totp),
  });
  const waitingCookie = createWaitingLoginCookie(config.isProduction, WAITING_LOGIN_MS);
  const page = createTwoFactorController({ twoFactor, waitingCookie, cookies: deps.cookies, notices: deps.notices, idTag: deps.idTag });
  const throttleReauth = createThrottleReauth(deps.limits, deps.idTag);
  const throttleCode = createThrottleSecondFactor(deps.limits, deps.idTag);
  const loggedIn = [jwtAuth, requireLogin];

  const router = Router();
  router.use(['/2fa', '/login/2fa'], noStore);
  router.use('/2fa', postsBelongTo('/user/2fa'));
  router.get('/2fa', loggedIn, deps.notices.read, formToken, page.loadPage, page.renderPage);
  router.post('/2fa/enable', acceptForm, loggedIn, formToken, page.loadPage, validateCode, page.enable, page.pageAgain);
  router.post('/2fa/disable', acceptForm, loggedIn, formToken, page.loadPage, validateDisableTotp, throttleReauth, page.disable, page.pageAgain);
  router.get('/login/2fa', jwtAuth, redirectLoggedIn, formToken, page.renderCodePage);
  router.post('/login/2fa', acceptForm, formToken, validateCode, page.reserveTry, throttleCode, page.finishLogin, page.codeFormAgain);
  return { router, secondStepIfEnrolled: page.secondStepIfEnrolled };
}
