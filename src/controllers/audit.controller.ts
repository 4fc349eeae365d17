import type { Request, Response } from 'express';
import { EVENTS_PER_PAGE, type SecurityEvents } from '../services/securityEvents.js';
import { pageOf } from './activity.controller.js';
import { shownEvent } from './activityRows.js';

/** /admin/audit: what administrators did (from the pages and from `npm run admin`), newest first. */
export function createAuditController({ securityEvents }: { securityEvents: SecurityEvents }) {
  return {
    async renderAuditPage(req: Request, res: Response) {
      const page = pageOf(req.query);
      const { events, hasMore } = await securityEvents.audit(page);
      res.render('admin-audit', { events: events.map((event) => shownEvent(event, res.locals.t)), page, hasMore, perPage: EVENTS_PER_PAGE });
    },
  };
}
