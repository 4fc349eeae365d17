import type { SettleAttempt } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { User, UserModel } from '../models/user.js';
import type { Passwords } from '../utils/password.js';
import type { AuthService, AuthUser, CarriedTokens, IssuedTokens } from './auth.service.js';

export type AccountService = ReturnType<typeof createAccountService>;

/**
 * The account, when `password` is its password and `alsoRight` (another factor, when asked) agrees. The throttle
 * counted the attempt as a failed login before: a match resets that count, an outage gives the point back, a
 * mismatch keeps it.
 */
export async function confirmAccount(
  { users, passwords }: { users: UserModel; passwords: Passwords },
  userId: string,
  password: string,
  settle: SettleAttempt,
  alsoRight: (account: User) => Promise<boolean> = () => Promise.resolve(true),
): Promise<User | undefined> {
  let account: User | undefined;
  try {
    const found = await users.findById(userId);
    // verify() is false without an account, after the same work.
    if ((await passwords.verify(found?.passwordHash, password)) && (await alsoRight(found!))) account = found;
  } catch (err) {
    // The outage is the answer even when the point cannot be given back.
    await settle('unchecked').catch(() => undefined);
    throw err;
  }
  if (account) await settle('succeeded');
  return account;
}

/** What a logged-in person does to their own account, after proving it with their password. */
export function createAccountService({
  users,
  sessions,
  auth,
  passwords,
}: {
  users: UserModel;
  sessions: RefreshSessions;
  auth: AuthService;
  passwords: Passwords;
}) {
  const confirm = (userId: string, password: string, settle: SettleAttempt) => confirmAccount({ users, passwords }, userId, password, settle);

  return {
    /**
     * A new password: every other session ends, and this browser's session is replaced by a new one (new sid).
     * Undefined when the current password is wrong.
     */
    async changePassword(input: {
      user: AuthUser;
      currentPassword: string;
      newPassword: string;
      carried: CarriedTokens;
      client: { userAgent: string; ip: string };
      settle: SettleAttempt;
    }): Promise<IssuedTokens | undefined> {
      const account = await confirm(input.user.id, input.currentPassword, input.settle);
      if (!account) return undefined;
      const passwordHash = await passwords.hash(input.newPassword);
      // The others end first, so that an outage leaves nothing half done that matters; and again at the end,
      // for a login with the old password that was in flight meanwhile.
      await sessions.revokeAll(account.id, input.user.sid);
      await users.changePassword(account.id, passwordHash);
      const issued = await auth.startSession(account, input.carried, input.client);
      await sessions.revokeAll(account.id, issued.user.sid);
      return issued;
    },

    /** Deletes the account and ends every session of it; false when the password is wrong. */
    async deleteAccount(input: { user: AuthUser; password: string; settle: SettleAttempt }): Promise<boolean> {
      const account = await confirm(input.user.id, input.password, input.settle);
      if (!account) return false;
      // As above: before the row goes (an outage leaves the account as it was) and after (a login in flight), so
      // that no session outlives the account into one that registers the id again.
      await sessions.revokeAll(account.id);
      await users.remove(account.id);
      await sessions.revokeAll(account.id);
      return true;
    },
  };
}
