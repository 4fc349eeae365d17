import { Router, type RequestHandler } from 'express';
import { createTwoFactorController } from '../controllers/twoFactor.controller.js';
import { noStore } from '../middleware/headers.js';
import { redirectLoggedIn, requireLogin } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import { createThrottleReauth, createThrottleSecondFactor } from '../middleware/throttle.js';
import { validateCode, validateProof } from '../middleware/validate.js';
import { createWaitingLogins } from '../models/waitingLogins.js';
import { createTwoFactorService } from '../services/twoFactor.service.js';
import { createWaitingLoginCookie } from '../utils/waitingLoginCookie.js';
import type { AreaParts } from './areaParts.js';

/** A login waits this long for its second factor, and allows this many codes. */
const WAITING_LOGIN_MS = 5 * 60_000;
const WAITING_LOGIN_TRIES = 5;

/**
 * TOTP with recovery codes (mounted under /user): enrolment, new recovery codes and turning it off at /2fa (each
 * from a confirmed session), and the second step of a login at /login/2fa. `secondStepIfEnrolled` goes into the password login's route, before its session starts.
 */
export function twoFactorArea(
  deps: Pick<
    AreaParts,
    | 'config'
    | 'db'
    | 'redis'
    | 'users'
    | 'secondFactor'
    | 'keys'
    | 'codes'
    | 'wrongCodes'
    | 'confirmation'
    | 'confirmationSteps'
    | 'sessions'
    | 'accountChanges'
    | 'auth'
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
  const { requireConfirmed, loadProof } = deps.confirmationSteps;
  const { maxWrongCodes, windowMs } = deps.wrongCodes.limits;
  const twoFactor = createTwoFactorService({
    ...deps,
    waitingLogins: createWaitingLogins(deps.redis, {
      keyPrefix: config.redisKeyPrefix,
      ttlMs: WAITING_LOGIN_MS,
      maxTries: WAITING_LOGIN_TRIES,
      maxWrongCodes,
      wrongCodesWindowMs: windowMs,
    }),
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
  router.post('/2fa/enable', acceptForm, loggedIn, requireConfirmed('/user/2fa'), formToken, page.loadPage, validateCode, page.enable, page.pageAgain);
  router.post(
    '/2fa/disable',
    acceptForm,
    loggedIn,
    requireConfirmed('/user/2fa'),
    formToken,
    page.loadPage,
    loadProof,
    validateProof,
    throttleReauth,
    page.disable,
    page.pageAgain,
  );
  router.post('/2fa/recovery-codes', acceptForm, loggedIn, requireConfirmed('/user/2fa'), page.renewRecoveryCodes);
  router.get('/login/2fa', jwtAuth, redirectLoggedIn, formToken, page.renderCodePage);
  router.post('/login/2fa', acceptForm, formToken, validateCode, page.reserveTry, throttleCode, page.finishLogin, page.codeFormAgain);
  return { router, secondStepIfEnrolled: page.secondStepIfEnrolled };
}
