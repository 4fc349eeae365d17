import type { Request, Response } from 'express';
import type { Notices } from '../middleware/notice.js';
import { ACCOUNTS_PER_PAGE, type AdminService } from '../services/admin.service.js';
import { succeed } from '../utils/http.js';
import { ID_PATTERN } from '../utils/inputRules.js';

const MAX_PAGE = 10_000;

/** `?q=` is an id prefix (id characters only) and `?page=` a page number; anything else means none. */
function listQuery(query: Request['query']) {
  const q = typeof query.q === 'string' && /^[A-Za-z0-9_]{0,20}$/.test(query.q) ? query.q : '';
  const page = Number(query.page);
  return { prefix: q, page: Number.isInteger(page) && page >= 1 && page <= MAX_PAGE ? page : 1 };
}

const idParam = (req: Request) => (ID_PATTERN.test(String(req.params.id)) ? String(req.params.id) : '');

export function createAdminController({ admin, notices }: { admin: AdminService; notices: Notices }) {
  return {
    async renderUsersPage(req: Request, res: Response) {
      const query = listQuery(req.query);
      const { accounts, hasMore } = await admin.listAccounts(query);
      res.render('admin-users', { accounts, hasMore, q: query.prefix, page: query.page, perPage: ACCOUNTS_PER_PAGE });
    },

    async lock(req: Request, res: Response) {
      await admin.lock(res.locals.user!.id, idParam(req));
      notices.set(res, 'accountLocked');
      succeed(req, res, '/admin/users');
    },

    async unlock(req: Request, res: Response) {
      await admin.unlock(idParam(req));
      notices.set(res, 'accountUnlocked');
      succeed(req, res, '/admin/users');
    },

    async endSessions(req: Request, res: Response) {
      await admin.endSessions(idParam(req));
      notices.set(res, 'accountSessionsEnded');
      succeed(req, res, '/admin/users');
    },
  };
}
