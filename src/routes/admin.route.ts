import { Router, type RequestHandler } from 'express';
import { createAdminController } from '../controllers/admin.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireAdmin, requireLogin } from '../middleware/jwt_auth.js';
import type { ConfirmationSteps } from '../middleware/confirmed.js';
import { postsBelongTo } from '../middleware/language.js';
import type { Notices } from '../middleware/notice.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { UserModel } from '../models/user.js';
import { createAdminService } from '../services/admin.service.js';
import type { SecurityEvents } from '../services/securityEvents.js';
import { createAuditController } from '../controllers/audit.controller.js';

/** The administrators' area, mounted at /admin: its service, controller and routes. */
export function adminArea({
  users,
  sessions,
  notices,
  confirmationSteps,
  securityEvents,
  ...web
}: {
  users: UserModel;
  sessions: RefreshSessions;
  notices: Notices;
  confirmationSteps: ConfirmationSteps;
  securityEvents: SecurityEvents;
  jwtAuth: RequestHandler;
  readNotice: RequestHandler;
  formToken: RequestHandler;
  acceptForm: RequestHandler[];
}): Router {
  const service = createAdminService({ users, sessions });
  const admin = createAdminController({ admin: service, notices });
  const audit = createAuditController({ securityEvents });
  return adminRoutes({ admin, audit, isAdmin: service.isAdmin, confirmed: confirmationSteps.requireConfirmed('/admin/users'), ...web });
}

/** Administrators only: jwt_auth, then the flag checked in MySQL on every request (`requireAdmin`). */
function adminRoutes({
  admin,
  audit,
  isAdmin,
  confirmed,
  jwtAuth,
  readNotice,
  formToken,
  acceptForm,
}: {
  admin: ReturnType<typeof createAdminController>;
  audit: ReturnType<typeof createAuditController>;
  isAdmin: (id: string) => Promise<boolean>;
  /** Every administrator action needs a confirmed session. */
  confirmed: RequestHandler;
  jwtAuth: RequestHandler;
  readNotice: RequestHandler;
  formToken: RequestHandler;
  acceptForm: RequestHandler[];
}): Router {
  const router = Router();
  router.use('/users', postsBelongTo('/admin/users'));
  router.use(noStore, jwtAuth, requireLogin, requireAdmin(isAdmin));
  router.get('/users', readNotice, formToken, admin.renderUsersPage);
  router.get('/audit', audit.renderAuditPage);
  router.post('/users/:id/lock', acceptForm, confirmed, formToken, admin.lock, admin.pageAgain);
  router.post('/users/:id/unlock', acceptForm, confirmed, formToken, admin.unlock, admin.pageAgain);
  router.post('/users/:id/revoke-sessions', acceptForm, confirmed, formToken, admin.endSessions, admin.pageAgain);
  return router;
}
