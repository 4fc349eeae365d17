import type { NextFunction, Request, Response } from 'express';
import { showFormAgain } from '../middleware/errors.js';
import type { Notices } from '../middleware/notice.js';
import { authEvent, type IdTag } from '../middleware/requestLog.js';
import { field, invalidAccountForm } from '../middleware/validate.js';
import type { TwoFactorService } from '../services/twoFactor.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import { HttpError, tooMany } from '../utils/httpError.js';
import { clientOf, loginClientOf, safeNextPath, succeed, wantsJson } from '../utils/http.js';
import type { WaitingLoginCookie } from '../utils/waitingLoginCookie.js';
import { refusedProof } from './refusedProof.js';

/** The /user/2fa pages and the second step of a login. */
export function createTwoFactorController({
  twoFactor,
  cookies,
  waitingCookie,
  notices,
  idTag,
}: {
  twoFactor: TwoFactorService;
  cookies: AuthCookies;
  waitingCookie: WaitingLoginCookie;
  notices: Notices;
  idTag: IdTag;
}) {
  /** The waiting login is over (or there never was one): back to the login form, with a notice when one ended. */
  function toLogin(req: Request, res: Response) {
    if (!waitingCookie.carried(req)) return res.redirect(303, '/user/login');
    waitingCookie.clear(res);
    if (wantsJson(req)) throw new HttpError(401, 'loginCode.ended');
    notices.set(res, 'waitingLoginEnded');
    res.redirect(303, '/user/login');
  }

  /** The account's wrong codes across all networks are spent: 429 for its codes and its new waiting logins alike. */
  function codesSpent(req: Request, userId: string, waitMs: number): never {
    authEvent(req, 'login.throttled', { idTag: idTag(userId), waitMs, limit: 'account_codes' });
    throw tooMany(waitMs);
  }

  return {
    /** A wrong code shows the page again, with what it showed before. */
    pageAgain: showFormAgain('two-factor'),
    codeFormAgain: showFormAgain('login-code'),

    /** What the page shows, read before a post too: a failed post shows the page again. */
    async loadPage(_req: Request, res: Response, next: NextFunction) {
      res.locals.twoFactor = await twoFactor.page(res.locals.user!);
      next();
    },

    renderPage(_req: Request, res: Response) {
      res.render('two-factor', { errors: {} });
    },

    async enable(req: Request, res: Response) {
      const user = res.locals.user!;
      const recoveryCodes = await twoFactor.enable(user, field(req, 'code'));
      if (!recoveryCodes) throw invalidAccountForm({ code: 'twoFactor.wrongCode' });
      authEvent(req, 'totp.enabled', { user: user.id, sid: user.sid });
      if (wantsJson(req)) res.json({ success: true, recoveryCodes });
      else res.render('two-factor-codes', { recoveryCodes, renewed: false });
    },

    /** New recovery codes replace the old ones, shown once as at enrolment. */
    async renewRecoveryCodes(req: Request, res: Response) {
      const user = res.locals.user!;
      const recoveryCodes = await twoFactor.renewRecoveryCodes(user);
      if (!recoveryCodes) throw new HttpError(409, 'twoFactor.changed');
      authEvent(req, 'recovery_codes.renewed', { user: user.id, sid: user.sid });
      if (wantsJson(req)) res.json({ success: true, recoveryCodes });
      else res.render('two-factor-codes', { recoveryCodes, renewed: true });
    },

    async disable(req: Request, res: Response) {
      const user = res.locals.user!;
      const disabled = await twoFactor.disable({ user, password: field(req, 'password'), code: field(req, 'code'), settle: res.locals.settleAttempt! });
      if (!('disabled' in disabled)) throw refusedProof(req, disabled, { field: 'password', message: 'confirm.wrongPassword' });
      authEvent(req, 'totp.disabled', { user: user.id });
      notices.set(res, 'twoFactorDisabled');
      succeed(req, res, '/user/2fa');
    },

    /** Between the password check and user.login: an account with TOTP waits for its code, without auth cookies. */
    async secondStepIfEnrolled(req: Request, res: Response, next: NextFunction) {
      const account = res.locals.account!;
      if (!account.hasTotp || account.locked) return next();
      const then = safeNextPath(field(req, 'next')) ?? '';
      const [begun] = await Promise.all([twoFactor.beginLogin(account, then, loginClientOf(req).shared), res.locals.loginReleased]);
      if ('waitMs' in begun) return codesSpent(req, account.id, begun.waitMs);
      waitingCookie.set(res, begun.ref);
      authEvent(req, 'login.second_factor', { user: account.id });
      if (wantsJson(req)) res.status(401).json({ success: false, msg: res.locals.t('loginCode.needed'), errors: {}, secondFactor: 'totp' });
      else res.redirect(303, '/user/login/2fa');
    },

    async renderCodePage(req: Request, res: Response) {
      const ref = waitingCookie.read(req);
      if (!ref || !(await twoFactor.isWaiting(ref))) return toLogin(req, res);
      res.render('login-code', { errors: {} });
    },

    /** Counts the try against the waiting login (five at most) and the account before the throttle and the check. */
    async reserveTry(req: Request, res: Response, next: NextFunction) {
      const ref = waitingCookie.read(req);
      const reserved = ref && (await twoFactor.reserveTry(ref));
      if (!ref || !reserved || 'gone' in reserved) return toLogin(req, res);
      if ('waitMs' in reserved) return codesSpent(req, ref.userId, reserved.waitMs);
      res.locals.waitingLogin = { ref, login: reserved.login };
      next();
    },

    async finishLogin(req: Request, res: Response) {
      const { ref, login } = res.locals.waitingLogin!;
      const carried = cookies.read(req);
      const outcome = await twoFactor.finishLogin({
        ref,
        waiting: login,
        code: field(req, 'code'),
        carried,
        client: clientOf(req),
        settle: res.locals.settleAttempt!,
      });
      if (outcome.kind === 'wrong' || outcome.kind === 'ended') authEvent(req, 'login.code_failed', { idTag: idTag(login.userId) });
      if (outcome.kind === 'wrong') throw new HttpError(401, 'loginCode.wrong', { errors: { code: 'loginCode.wrong' } });
      if (outcome.kind === 'ended') return toLogin(req, res);
      waitingCookie.clear(res);
      cookies.set(res, outcome.issued);
      authEvent(req, 'login.ok', { user: outcome.issued.user.id, sid: outcome.issued.user.sid });
      succeed(req, res, outcome.next || '/user/info');
    },
  };
}
