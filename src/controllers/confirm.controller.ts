import type { NextFunction, Request, Response } from 'express';
import { confirmPath } from '../middleware/confirmed.js';
import { showFormAgain } from '../middleware/errors.js';
import { linkOtherLanguageTo } from '../middleware/language.js';
import { authEvent } from '../middleware/requestLog.js';
import { field } from '../middleware/validate.js';
import type { Confirmation } from '../services/confirmation.service.js';
import type { AuthCookies } from '../utils/authCookies.js';
import { safeNextPath, succeed } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import { refusedProof } from './refusedProof.js';

/** What the confirm page offers this account (the passkey button when it has passkeys), and how long a confirmation holds. */
export interface ConfirmPage {
  hasPasskeys: boolean;
  minutes: number;
}

/** /user/confirm: the password (and code), or a passkey (passkeys area), confirms this session for STEP_UP_TTL. */
export function createConfirmController({
  confirmation,
  cookies,
  hasPasskeys,
}: {
  confirmation: Confirmation;
  cookies: AuthCookies;
  hasPasskeys: (userId: string) => Promise<boolean>;
}) {
  const minutes = Math.max(1, Math.ceil(confirmation.stepUpMs / 60_000));
  return {
    /** A wrong password or code shows the form again, with `next` kept. */
    formAgain: showFormAgain('confirm', (req) => ({ next: safeNextPath(field(req, 'next')) ?? '' })),

    async loadPage(req: Request, res: Response, next: NextFunction) {
      res.locals.confirmPage = { hasPasskeys: await hasPasskeys(res.locals.user!.id), minutes };
      // The answer to a post links to the confirm page, coming back to the same place, in the other language.
      if (req.method === 'POST') linkOtherLanguageTo(res, confirmPath(safeNextPath(field(req, 'next')) ?? '/user/info'));
      next();
    },

    renderPage(req: Request, res: Response) {
      res.render('confirm', { errors: {}, values: { next: safeNextPath(req.query.next) ?? '' } });
    },

    async confirm(req: Request, res: Response) {
      const user = res.locals.user!;
      const proof = await confirmation.prove({
        userId: user.id,
        password: field(req, 'password'),
        code: field(req, 'code'),
        settle: res.locals.settleAttempt!,
      });
      if (!('account' in proof)) throw refusedProof(req, proof, { field: 'password', message: 'confirm.wrongPassword' });
      if (!(await confirmation.markConfirmed(user))) {
        // The session ended meanwhile (logged out elsewhere): there is nothing left to confirm.
        cookies.clear(res);
        throw new HttpError(401, 'auth.loginRequired');
      }
      authEvent(req, 'session.confirmed', { user: user.id, sid: user.sid, method: 'password' });
      succeed(req, res, safeNextPath(field(req, 'next')) ?? '/user/info');
    },
  };
}
