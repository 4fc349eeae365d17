import { Router } from 'express';
import { createRecoveryController } from '../controllers/recovery.controller.js';
import { noStore } from '../middleware/headers.js';
import { createThrottleForgot } from '../middleware/throttle.js';
import { validateForgot, validateReset } from '../middleware/validate.js';
import type { AreaParts } from './areaParts.js';

/**
 * Getting back in (mounted under /user): a reset link by mail at /forgot, a new password through it at /reset. A
 * link is 256 random bits, so /reset needs no throttle; /forgot is limited per network (each may send a mail).
 */
export function recoveryArea(
  deps: Pick<AreaParts, 'config' | 'recovery' | 'limits' | 'idTag' | 'notices' | 'mailContext' | 'formToken' | 'acceptForm'>,
): Router {
  const { formToken, acceptForm } = deps;
  const page = createRecoveryController({ ...deps, resetTtlMs: deps.config.resetTokenTtlMs });

  const router = Router();
  router.use(['/forgot', '/reset'], noStore);
  router.get('/forgot', formToken, page.renderForgotPage);
  router.post('/forgot', acceptForm, formToken, validateForgot, createThrottleForgot(deps.limits), page.forgot, page.forgotFormAgain);
  router.get('/reset', formToken, page.loadResetLink, page.renderResetPage);
  router.post('/reset', acceptForm, formToken, page.loadResetLink, validateReset, page.reset, page.resetFormAgain);
  return router;
}
