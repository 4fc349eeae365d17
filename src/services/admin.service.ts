import type { AccountChanges } from '../models/accountChanges.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { SecondFactorModel } from '../models/secondFactor.js';
import type { AccountDetails, AccountSummary, UserModel } from '../models/user.js';
import { HttpError } from '../utils/httpError.js';
import { sameId } from '../utils/inputRules.js';
import type { Recovery } from './recovery.service.js';
import type { SecurityEvents } from './securityEvents.js';

export const ACCOUNTS_PER_PAGE = 50;

/** One account as its page shows it: MySQL's details, how many live sessions, and its last recorded login. */
export interface AccountPage extends AccountDetails {
  liveSessions: number;
  lastLoginAt: Date | null;
}

/** A row of the accounts list. */
export interface AccountRow extends AccountSummary {
  liveSessions: number;
  lastLoginAt: Date | null;
}

export type AdminService = ReturnType<typeof createAdminService>;

/** What administrators do to accounts: MySQL holds the flags, Redis the sessions that end with them. */
export function createAdminService({
  users,
  sessions,
  secondFactor,
  recovery,
  accountChanges,
  securityEvents,
}: {
  users: UserModel;
  sessions: RefreshSessions;
  secondFactor: SecondFactorModel;
  recovery: Recovery;
  /** The factors change in MySQL: every instance's security summary of the account is told. */
  accountChanges: AccountChanges;
  securityEvents: Pick<SecurityEvents, 'latestLogins' | 'lastLoginsOf'>;
}) {
  const known = async (id: string) => {
    const account = await users.findById(id);
    if (!account) throw new HttpError(404, 'admin.unknownAccount');
    return account;
  };
  /** An account other than the administrator's own (their own pages ask for their password and code instead). */
  const another = async (adminId: string, id: string) => {
    const account = await known(id);
    if (sameId(account.id, adminId)) throw new HttpError(400, 'admin.notOnOwnAccount');
    return account;
  };

  return {
    /** Checked in MySQL on every request: a demoted or locked administrator's token is not enough. */
    async isAdmin(id: string): Promise<boolean> {
      const account = await users.findById(id);
      return account !== undefined && account.isAdmin && !account.locked;
    },

    async listAccounts(query: { prefix: string; page: number }): Promise<{ accounts: AccountRow[]; hasMore: boolean }> {
      const { accounts, hasMore } = await users.list({ ...query, pageSize: ACCOUNTS_PER_PAGE });
      const ids = accounts.map((account) => account.id);
      const [live, lastLogins] = await Promise.all([sessions.countLive(ids), securityEvents.lastLoginsOf(ids)]);
      const rows = accounts.map((account, i) => ({ ...account, liveSessions: live[i], lastLoginAt: lastLogins.get(account.id.toLowerCase()) ?? null }));
      return { accounts: rows, hasMore };
    },

    async account(id: string): Promise<AccountPage> {
      const details = await users.details(id);
      if (!details) throw new HttpError(404, 'admin.unknownAccount');
      const [live, [lastLogin]] = await Promise.all([sessions.countLive([details.id]), securityEvents.latestLogins(details.id, 1)]);
      return { ...details, liveSessions: live[0], lastLoginAt: lastLogin?.at ?? null };
    },

    /**
     * A locked account cannot log in, and every session of it ends: before the lock (a lock cut off by an outage
     * may still land later) and after it (a login in flight).
     */
    async lock(adminId: string, id: string): Promise<void> {
      const account = await known(id);
      if (sameId(account.id, adminId)) throw new HttpError(400, 'admin.cannotLockSelf');
      await sessions.revokeAll(account.id);
      await users.setLocked(account.id, true);
      await sessions.revokeAll(account.id);
    },

    async unlock(id: string): Promise<void> {
      await users.setLocked((await known(id)).id, false);
    },

    async endSessions(id: string): Promise<number> {
      return sessions.revokeAll((await known(id)).id);
    },

    /** A reset link to hand over (the account's id as stored, and the link). */
    async resetLink(adminId: string, id: string, origin: string): Promise<{ id: string; link: string }> {
      const account = await another(adminId, id);
      const link = await recovery.adminLink(account.id, origin);
      if (!link) throw new HttpError(404, 'admin.unknownAccount');
      return { id: account.id, link };
    },

    /**
     * For a lost phone: TOTP off, recovery codes and passkeys gone, every session ended, before the change (an outage
     * leaves the account as it was) and after it (a login that passed its code meanwhile).
     */
    async resetSecondFactor(adminId: string, id: string): Promise<void> {
      const account = await another(adminId, id);
      await sessions.revokeAll(account.id);
      await secondFactor.removeAll(account.id);
      await accountChanges.announce(account.id);
      await sessions.revokeAll(account.id);
    },

    /** As /user/delete: the sessions end before the row goes and after (a login in flight), so none outlives the account. */
    async deleteAccount(adminId: string, id: string): Promise<void> {
      const account = await another(adminId, id);
      await sessions.revokeAll(account.id);
      await users.remove(account.id);
      await sessions.revokeAll(account.id);
    },
  };
}
