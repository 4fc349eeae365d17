import type { NextFunction, Request, Response } from 'express';
import { showFormAgain } from '../middleware/errors.js';
import type { Notices } from '../middleware/notice.js';
import { authEvent } from '../middleware/requestLog.js';
import { field } from '../middleware/validate.js';
import type { UserModel } from '../models/user.js';
import type { EmailService, MailContext } from '../services/email.service.js';
import { succeed } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import { linkInvalid } from './linkInvalid.js';

/** What the email page shows: the address in use and whether it is verified, and one waiting for its link. */
export interface EmailPage {
  address: string | null;
  verified: boolean;
  pending: string | null;
}

/** /user/email (confirmed) and the verification link. */
export function createEmailController({
  emails,
  users,
  notices,
  mailContext,
}: {
  emails: EmailService;
  users: UserModel;
  notices: Notices;
  mailContext: (req: Request, res: Response) => MailContext;
}) {
  return {
    /** A refused address shows the page again with what was typed. */
    formAgain: showFormAgain('email', (req) => ({ email: field(req, 'email').trim().slice(0, 300) })),

    /** Read before a post too: a refused post shows the page again. */
    async loadPage(_req: Request, res: Response, next: NextFunction) {
      const account = await users.findById(res.locals.user!.id);
      if (!account) throw new HttpError(401, 'auth.loginRequired');
      res.locals.emailPage = { address: account.email, verified: account.emailVerified, pending: account.pendingEmail };
      next();
    },

    renderPage(_req: Request, res: Response) {
      res.render('email', { errors: {}, values: {} });
    },

    async propose(req: Request, res: Response) {
      const user = res.locals.user!;
      const outcome = await emails.propose(user.id, res.locals.emailAddress!, mailContext(req, res));
      if (outcome === 'gone') throw new HttpError(401, 'auth.loginRequired');
      if (outcome === 'sent') authEvent(req, 'email.link_sent', { user: user.id, detail: res.locals.emailAddress! });
      notices.set(res, outcome === 'sent' ? 'emailLinkSent' : 'emailUnchanged');
      succeed(req, res, '/user/email');
    },

    async remove(req: Request, res: Response) {
      const user = res.locals.user!;
      await emails.remove(user.id, mailContext(req, res));
      authEvent(req, 'email.removed', { user: user.id });
      notices.set(res, 'emailRemoved');
      succeed(req, res, '/user/email');
    },

    /** The link from the mail, logged in or not. */
    async verify(req: Request, res: Response) {
      const outcome = await emails.verify(typeof req.query.token === 'string' ? req.query.token : '');
      if (!('verified' in outcome))
        throw linkInvalid('taken' in outcome ? 'emailVerify.taken' : 'emailVerify.invalid', { href: '/user/email', label: 'emailVerify.again' });
      authEvent(req, 'email.verified', { user: outcome.verified.userId });
      notices.set(res, 'emailVerified');
      res.redirect(303, res.locals.user ? '/user/info' : '/user/login');
    },
  };
}
