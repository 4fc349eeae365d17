import type { NextFunction, Request, Response } from 'express';
import { showFormAgain } from '../middleware/errors.js';
import { linkOtherLanguageTo } from '../middleware/language.js';
import type { Notices } from '../middleware/notice.js';
import { authEvent, type IdTag } from '../middleware/requestLog.js';
import { field, invalidAccountForm } from '../middleware/validate.js';
import type { MailContext } from '../services/email.service.js';
import type { Recovery } from '../services/recovery.service.js';
import { succeed, wantsJson } from '../utils/http.js';
import { linkInvalid } from './linkInvalid.js';

const resetLinkInvalid = () => linkInvalid('reset.invalid', { href: '/user/forgot', label: 'reset.again' });

/** /user/forgot and /user/reset: a link by mail, and a new password through it. */
export function createRecoveryController({
  recovery,
  notices,
  idTag,
  mailContext,
  resetTtlMs,
}: {
  recovery: Recovery;
  notices: Notices;
  idTag: IdTag;
  mailContext: (req: Request, res: Response) => MailContext;
  resetTtlMs: number;
}) {
  const minutes = Math.round(resetTtlMs / 60_000);
  return {
    forgotFormAgain: showFormAgain('forgot', (req) => ({ login: field(req, 'login').trim().slice(0, 300) })),
    resetFormAgain: showFormAgain('reset'),

    renderForgotPage(_req: Request, res: Response) {
      res.render('forgot', { values: {}, errors: {}, sent: false, minutes });
    },

    /** Always the same answer, whether or not an account matched (the service takes the same time either way). */
    async forgot(req: Request, res: Response) {
      const login = field(req, 'login');
      const { sent, accountId } = await recovery.forgot(login, mailContext(req, res));
      // The account's activity names the request whether or not a mail went (one INSERT either way: an unknown id writes no row).
      authEvent(req, 'forgot.requested', { idTag: idTag(login.trim()), sent }, accountId ?? login.trim().slice(0, 20));
      if (wantsJson(req)) res.json({ success: true });
      else res.render('forgot', { values: {}, errors: {}, sent: true, minutes });
    },

    /** The link's token (the query of the page, the form's field of a post) must be good: else 400 with a way to a new one. */
    async loadResetLink(req: Request, res: Response, next: NextFunction) {
      const token = req.method === 'POST' ? field(req, 'token') : typeof req.query.token === 'string' ? req.query.token : '';
      // The answer to a post links to the page of the same link in the other language.
      if (req.method === 'POST') linkOtherLanguageTo(res, `/user/reset?${new URLSearchParams({ token })}`);
      const userId = await recovery.accountOf(token);
      if (!userId) throw resetLinkInvalid();
      res.locals.resetLink = { token, userId };
      next();
    },

    renderResetPage(_req: Request, res: Response) {
      res.render('reset', { errors: {} });
    },

    async reset(req: Request, res: Response) {
      const { token, userId } = res.locals.resetLink!;
      const outcome = await recovery.reset({ token, userId, password: field(req, 'password'), context: mailContext(req, res) });
      if ('invalid' in outcome) throw resetLinkInvalid();
      if ('sameAsCurrent' in outcome) throw invalidAccountForm({ password: 'password.sameAsCurrent' });
      authEvent(req, 'password.reset', { user: userId });
      notices.set(res, 'passwordReset');
      succeed(req, res, '/user/login');
    },
  };
}
