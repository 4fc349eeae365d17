import { Router, type RequestHandler } from 'express';
import { createSessionsController } from '../controllers/sessions.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import type { Notices } from '../middleware/notice.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { AuthCookies } from '../utils/authCookies.js';

/** The sessions page (mounted under /user): the account's live sessions, ending one, ending all others. */
export function sessionsRoutes({
  sessions,
  cookies,
  notices,
  jwtAuth,
  acceptForm,
  formToken,
}: {
  sessions: RefreshSessions;
  cookies: AuthCookies;
  notices: Notices;
  jwtAuth: RequestHandler;
  /** Refuses cross-site posts, reads the body (form or JSON, 10 kB) and checks the CSRF token. */
  acceptForm: RequestHandler[];
  /** Puts a CSRF token on the page for its forms. */
  formToken: RequestHandler;
}): Router {
  const page = createSessionsController({ sessions, cookies, notices });
  const router = Router();
  router.use('/sessions', noStore, postsBelongTo('/user/sessions'));
  router.get('/sessions', jwtAuth, requireLogin, notices.read, formToken, page.renderSessionsPage);
  router.post('/sessions/revoke', acceptForm, jwtAuth, requireLogin, page.revoke);
  router.post('/sessions/revoke-others', acceptForm, jwtAuth, requireLogin, page.revokeOthers);
  return router;
}
