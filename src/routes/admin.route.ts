import { Router, type RequestHandler } from 'express';
import { accountPath, createAdminController } from '../controllers/admin.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireAdmin, requireLogin } from '../middleware/jwt_auth.js';
import { postsBelongTo } from '../middleware/language.js';
import { createAdminService } from '../services/admin.service.js';
import { createAuditController } from '../controllers/audit.controller.js';
import type { AreaParts } from './areaParts.js';

/** The administrators' area, mounted at /admin: its service, controller and routes. */
export function adminArea(
  deps: Pick<
    AreaParts,
    | 'users'
    | 'sessions'
    | 'secondFactor'
    | 'recovery'
    | 'accountChanges'
    | 'securityEvents'
    | 'notices'
    | 'confirmationSteps'
    | 'csrf'
    | 'jwtAuth'
    | 'readNotice'
    | 'formToken'
    | 'acceptForm'
  >,
): Router {
  const service = createAdminService(deps);
  const admin = createAdminController({ admin: service, notices: deps.notices, siteOrigin: deps.csrf.siteOrigin, securityEvents: deps.securityEvents });
  const { requireConfirmed } = deps.confirmationSteps;
  return adminRoutes({
    ...deps,
    admin,
    audit: createAuditController({ securityEvents: deps.securityEvents }),
    isAdmin: service.isAdmin,
    confirmed: requireConfirmed('/admin/users'),
    confirmedOnAccount: requireConfirmed(accountPath),
  });
}

/** Administrators only: jwt_auth, then the flag checked in MySQL on every request (`requireAdmin`). */
function adminRoutes({
  admin,
  audit,
  isAdmin,
  confirmed,
  confirmedOnAccount,
  jwtAuth,
  readNotice,
  formToken,
  acceptForm,
}: {
  admin: ReturnType<typeof createAdminController>;
  audit: ReturnType<typeof createAuditController>;
  isAdmin: (id: string) => Promise<boolean>;
  /** Every administrator action needs a confirmed session: from the list, and from an account's page. */
  confirmed: RequestHandler;
  confirmedOnAccount: RequestHandler;
  jwtAuth: RequestHandler;
  readNotice: RequestHandler;
  formToken: RequestHandler;
  acceptForm: RequestHandler[];
}): Router {
  // The actions of an account's page answer there (and link there in the other language).
  const onAccount = [...acceptForm, confirmedOnAccount, postsBelongTo(accountPath), formToken];
  const router = Router();
  router.use('/users', postsBelongTo('/admin/users'));
  router.use(noStore, jwtAuth, requireLogin, requireAdmin(isAdmin));
  router.get('/users', readNotice, formToken, admin.renderUsersPage);
  router.get('/audit', audit.renderAuditPage);
  router.post('/users/:id/lock', acceptForm, confirmed, formToken, admin.lock, admin.pageAgain);
  router.post('/users/:id/unlock', acceptForm, confirmed, formToken, admin.unlock, admin.pageAgain);
  router.post('/users/:id/revoke-sessions', acceptForm, confirmed, formToken, admin.endSessions, admin.pageAgain);
  router.get('/users/:id', readNotice, formToken, admin.renderAccountPage, admin.accountPageAgain);
  router.post('/users/:id/reset-link', onAccount, admin.resetLink, admin.accountPageAgain);
  router.post('/users/:id/reset-second-factor', onAccount, admin.resetSecondFactor, admin.accountPageAgain);
  router.post('/users/:id/delete', onAccount, admin.deleteAccount, admin.accountPageAgain);
  return router;
}
