import type { NextFunction, Request, Response } from 'express';
import { showFormAgain } from '../middleware/errors.js';
import { authEvent } from '../middleware/requestLog.js';
import type { Notices } from '../middleware/notice.js';
import { ACCOUNTS_PER_PAGE, type AdminService } from '../services/admin.service.js';
import type { AuthUser } from '../services/auth.service.js';
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

export function createAdminController({ admin, notices }: { admin: AdminService; notices: Notices }) {
  /** What the list page shows for this query; the viewer's own row is marked (it offers no lock). */
  async function usersPage(query: Request['query'], viewer: AuthUser) {
    const { prefix, page } = listQuery(query);
    const { accounts, hasMore } = await admin.listAccounts({ prefix, page });
    const rows = accounts.map((account) => ({ ...account, own: sameId(account.id, viewer.id) }));
    return { accounts: rows, hasMore, q: prefix, page, perPage: ACCOUNTS_PER_PAGE };
  }
  const listAgain = showFormAgain('admin-users');

  return {
    async renderUsersPage(req: Request, res: Response) {
      res.render('admin-users', await usersPage(req.query, res.locals.user!));
    },

    /** A refused action (locking oneself, an unknown id) shows the list again with the message; JSON clients get only the failure. */
    async pageAgain(err: unknown, req: Request, res: Response, next: NextFunction) {
      if (err instanceof HttpError && err.status < 500 && !wantsJson(req)) Object.assign(res.locals, await usersPage({}, res.locals.user!));
      listAgain(err, req, res, next);
    },

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
