import type { NextFunction, Request, Response } from 'express';
import { showFormAgain } from '../middleware/errors.js';
import { linkOtherLanguageTo } from '../middleware/language.js';
import type { NoticeKey, Notices } from '../middleware/notice.js';
import { authEvent, type AuthEvent } from '../middleware/requestLog.js';
import { ACCOUNTS_PER_PAGE, type AdminService } from '../services/admin.service.js';
import type { AuthUser } from '../services/auth.service.js';
import type { SecurityEvents } from '../services/securityEvents.js';
import { formatDateTime } from '../utils/dateTime.js';
import { pageOf } from './activity.controller.js';
import { shownEvent } from './activityRows.js';
import { succeed, wantsJson } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import { ID_PATTERN, sameId } from '../utils/inputRules.js';

const MAX_PAGE = 10_000;

/** `?q=` is an id prefix (id characters only) and `?page=` a page number; anything else means none. */
function listQuery(query: Request['query']) {
  const q = typeof query.q === 'string' && /^[A-Za-z0-9_]{0,20}$/.test(query.q) ? query.q : '';
  const page = Number(query.page);
  return { prefix: q, page: Number.isInteger(page) && page >= 1 && page <= MAX_PAGE ? page : 1 };
}

const idParam = (req: Request) => (ID_PATTERN.test(String(req.params.id)) ? String(req.params.id) : '');

/** The page of the account a request names (the actions there come back to it). */
export const accountPath = (req: Request): string => `/admin/users/${encodeURIComponent(String(req.params.id))}`;

export function createAdminController({
  admin,
  notices,
  siteOrigin,
  securityEvents,
}: {
  admin: AdminService;
  /** The account's page shows its activity. */
  securityEvents: Pick<SecurityEvents, 'ofAccount'>;
  notices: Notices;
  /** The origin of the links the site hands out. */
  siteOrigin: (req: Request) => string;
}) {
  /** What the list page shows for this query; the viewer's own row is marked (it offers no lock). */
  async function usersPage(query: Request['query'], viewer: AuthUser) {
    const { prefix, page } = listQuery(query);
    const { accounts, hasMore } = await admin.listAccounts({ prefix, page });
    const rows = accounts.map((account) => ({ ...account, own: sameId(account.id, viewer.id) }));
    return { accounts: rows, hasMore, q: prefix, page, perPage: ACCOUNTS_PER_PAGE };
  }
  const listAgain = showFormAgain('admin-users');

  /** What an account's page shows; the administrator's own account offers no actions. */
  async function accountPage(req: Request, res: Response) {
    const account = await admin.account(idParam(req));
    const { user, lang, t } = res.locals;
    const page = pageOf(req.query);
    const activity = await securityEvents.ofAccount(account.id, page);
    return {
      account,
      own: sameId(account.id, user!.id),
      formatTime: (date: Date) => formatDateTime(lang, date.toISOString()),
      events: activity.events.map((event) => shownEvent(event, t)),
      page,
      hasMore: activity.hasMore,
    };
  }
  const accountAgain = showFormAgain('admin-account');

  /** An action of an account's page: done, logged with the administrator's id, and back to that page with a notice. */
  const accountAction =
    (act: (adminId: string, id: string) => Promise<void>, event: AuthEvent, notice: NoticeKey) =>
    async (req: Request, res: Response): Promise<void> => {
      const me = res.locals.user!.id;
      await act(me, idParam(req));
      authEvent(req, event, { admin: me, user: idParam(req) });
      notices.set(res, notice);
      succeed(req, res, accountPath(req));
    };

  return {
    async renderUsersPage(req: Request, res: Response) {
      res.render('admin-users', await usersPage(req.query, res.locals.user!));
    },

    /** A refused action (locking oneself, an unknown id) shows the list again with the message; JSON clients get only the failure. */
    async pageAgain(err: unknown, req: Request, res: Response, next: NextFunction) {
      if (err instanceof HttpError && err.status < 500 && !wantsJson(req)) Object.assign(res.locals, await usersPage({}, res.locals.user!));
      listAgain(err, req, res, next);
    },

    async renderAccountPage(req: Request, res: Response) {
      res.render('admin-account', await accountPage(req, res));
    },

    /**
     * A refused action on an account's page shows that page again with the message; an account that does not exist
     * (or no longer: it was just deleted) shows the list instead, whose language link the page then names.
     */
    async accountPageAgain(err: unknown, req: Request, res: Response, next: NextFunction) {
      if (!(err instanceof HttpError) || err.status >= 500 || wantsJson(req)) return next(err);
      if (err.status !== 404) {
        Object.assign(res.locals, await accountPage(req, res));
        accountAgain(err, req, res, next);
        return;
      }
      if (req.method === 'POST') linkOtherLanguageTo(res, '/admin/users');
      Object.assign(res.locals, await usersPage({}, res.locals.user!));
      listAgain(err, req, res, next);
    },

    /** The link is shown once, on the answer to this post (JSON: `link`); the account's page offers a new one. */
    async resetLink(req: Request, res: Response) {
      const me = res.locals.user!.id;
      const { id, link } = await admin.resetLink(me, idParam(req), siteOrigin(req));
      authEvent(req, 'admin.reset_link', { admin: me, user: id });
      if (wantsJson(req)) res.json({ success: true, link });
      else res.render('admin-reset-link', { accountId: id, link });
    },

    resetSecondFactor: accountAction(admin.resetSecondFactor, 'admin.second_factor_reset', 'secondFactorReset'),
    deleteAccount: accountAction(admin.deleteAccount, 'admin.account_deleted', 'accountDeletedByAdmin'),

    async lock(req: Request, res: Response) {
      await admin.lock(res.locals.user!.id, idParam(req));
      authEvent(req, 'admin.locked', { admin: res.locals.user!.id, user: idParam(req) });
      notices.set(res, 'accountLocked');
      succeed(req, res, '/admin/users');
    },

    async unlock(req: Request, res: Response) {
      await admin.unlock(idParam(req));
      authEvent(req, 'admin.unlocked', { admin: res.locals.user!.id, user: idParam(req) });
      notices.set(res, 'accountUnlocked');
      succeed(req, res, '/admin/users');
    },

    async endSessions(req: Request, res: Response) {
      const ended = await admin.endSessions(idParam(req));
      authEvent(req, 'admin.sessions_ended', { admin: res.locals.user!.id, user: idParam(req), count: ended, detail: String(ended) });
      notices.set(res, 'accountSessionsEnded');
      succeed(req, res, '/admin/users');
    },
  };
}
