import type { Request, Response } from 'express';
import type { SecurityEvents } from '../services/securityEvents.js';
import { wantsJson } from '../utils/http.js';
import { shownEvent } from './activityRows.js';

const MAX_PAGE = 10_000;

/** `?page=`, a page number; anything else is the first. */
export function pageOf(query: Request['query']): number {
  const page = Number(query.page);
  return Number.isInteger(page) && page >= 1 && page <= MAX_PAGE ? page : 1;
}

/** /user/activity: the account's security activity, 50 a page, newest first (HTML and JSON). */
export function createActivityController({ securityEvents }: { securityEvents: SecurityEvents }) {
  return {
    async renderActivityPage(req: Request, res: Response) {
      const { user, t } = res.locals;
      const page = pageOf(req.query);
      const { events, hasMore } = await securityEvents.ofAccount(user!.id, page);
      const shown = events.map((event) => shownEvent(event, t));
      if (wantsJson(req)) {
        const rows = shown.map(({ kind, at, ip, device, actor, admin }) => ({ kind, at, ip, device, actor, ...(admin ? { admin } : {}) }));
        return void res.json({ events: rows, next: hasMore ? page + 1 : null });
      }
      res.render('activity', { events: shown, page, hasMore });
    },
  };
}
