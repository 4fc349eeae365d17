import { Router } from 'express';
import { createConfirmController } from '../controllers/confirm.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import { createThrottleReauth } from '../middleware/throttle.js';
import { validateProof } from '../middleware/validate.js';
import type { AreaParts } from './areaParts.js';

/** Confirming it's you with the password (mounted under /user); the passkey way is in the passkeys area. */
export function confirmArea(
  deps: Pick<AreaParts, 'confirmation' | 'confirmationSteps' | 'passkeyModel' | 'limits' | 'idTag' | 'cookies' | 'jwtAuth' | 'formToken' | 'acceptForm'>,
): Router {
  const { jwtAuth, formToken, acceptForm, passkeyModel } = deps;
  const { loadProof } = deps.confirmationSteps;
  const hasPasskeys = async (userId: string) => (await passkeyModel.listByUser(userId)).length > 0;
  const page = createConfirmController({ confirmation: deps.confirmation, cookies: deps.cookies, hasPasskeys });
  const throttleReauth = createThrottleReauth(deps.limits, deps.idTag);
  const loggedIn = [jwtAuth, requireLogin];

  const router = Router();
  router.use('/confirm', noStore);
  router.get('/confirm', loggedIn, formToken, loadProof, page.loadPage, page.renderPage);
  router.post('/confirm', acceptForm, loggedIn, formToken, loadProof, page.loadPage, validateProof, throttleReauth, page.confirm, page.formAgain);
  return router;
}
