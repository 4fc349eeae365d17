import type { RefreshSessions } from '../models/refreshSessions.js';
import type { AccountSummary, UserModel } from '../models/user.js';
import { HttpError } from '../utils/httpError.js';
import { sameId } from '../utils/inputRules.js';

export const ACCOUNTS_PER_PAGE = 50;

export type AdminService = ReturnType<typeof createAdminService>;

/** What administrators do to accounts: MySQL holds the flags, Redis the sessions that end with them. */
export function createAdminService({ users, sessions }: { users: UserModel; sessions: RefreshSessions }) {
  const known = async (id: string) => {
    const account = await users.findById(id);
    if (!account) throw new HttpError(404, 'admin.unknownAccount');
    return account;
  };

  return {
    /** Checked in MySQL on every request: a demoted or locked administrator's token is not enough. */
    async isAdmin(id: string): Promise<boolean> {
      const account = await users.findById(id);
      return account !== undefined && account.isAdmin && !account.locked;
    },

    async listAccounts(query: { prefix: string; page: number }): Promise<{ accounts: (AccountSummary & { liveSessions: number })[]; hasMore: boolean }> {
      const { accounts, hasMore } = await users.list({ ...query, pageSize: ACCOUNTS_PER_PAGE });
      const live = await sessions.countLive(accounts.map((account) => account.id));
      return { accounts: accounts.map((account, i) => ({ ...account, liveSessions: live[i] })), hasMore };
    },

    /** A locked account cannot log in, and every session of it ends. */
    async lock(adminId: string, id: string): Promise<void> {
      const account = await known(id);
      if (sameId(account.id, adminId)) throw new HttpError(400, 'admin.cannotLockSelf');
      await users.setLocked(account.id, true);
      await sessions.revokeAll(account.id);
    },

    async unlock(id: string): Promise<void> {
      await users.setLocked((await known(id)).id, false);
    },

    async endSessions(id: string): Promise<number> {
      return sessions.revokeAll((await known(id)).id);
    },
  };
}
