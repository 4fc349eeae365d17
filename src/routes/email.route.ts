import { Router } from 'express';
import { createEmailController } from '../controllers/email.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import { validateEmail } from '../middleware/validate.js';
import type { AreaParts } from './areaParts.js';

/** The account's email address (mounted under /user): the page and its changes (confirmed), and the verification link. */
export function emailArea(
  deps: Pick<AreaParts, 'users' | 'emails' | 'notices' | 'confirmationSteps' | 'mailContext' | 'jwtAuth' | 'formToken' | 'acceptForm'>,
): Router {
  const { jwtAuth, formToken, acceptForm, notices } = deps;
  const page = createEmailController({ emails: deps.emails, users: deps.users, notices, mailContext: deps.mailContext });
  const loggedIn = [jwtAuth, requireLogin];
  const { requireConfirmed } = deps.confirmationSteps;

  const router = Router();
  router.use('/email', noStore, postsBelongTo('/user/email'));
  router.get('/email', loggedIn, requireConfirmed(), notices.read, formToken, page.loadPage, page.renderPage);
  router.post('/email', acceptForm, loggedIn, requireConfirmed('/user/email'), formToken, page.loadPage, validateEmail, page.propose, page.formAgain);
  router.post('/email/remove', acceptForm, loggedIn, requireConfirmed('/user/email'), formToken, page.loadPage, page.remove, page.formAgain);
  router.get('/email/verify', jwtAuth, page.verify);
  return router;
}
