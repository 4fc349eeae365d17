import { Router } from 'express';
import { createActivityController } from '../controllers/activity.controller.js';
import { noStore } from '../middleware/headers.js';
import { requireLogin } from '../middleware/jwt_auth.js';
import type { AreaParts } from './areaParts.js';

/** The account's security activity (mounted under /user). */
export function activityRoutes({ securityEvents, jwtAuth }: Pick<AreaParts, 'securityEvents' | 'jwtAuth'>): Router {
  const activity = createActivityController({ securityEvents });
  const router = Router();
  router.get('/activity', noStore, jwtAuth, requireLogin, activity.renderActivityPage);
  return router;
}
