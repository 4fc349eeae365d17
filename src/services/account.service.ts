import type { SettleAttempt } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { UserModel } from '../models/user.js';
import type { Passwords } from '../utils/password.js';
import type { AuthService, AuthUser, CarriedTokens, IssuedTokens } from './auth.service.js';
import type { Confirmation, Proof } from './confirmation.service.js';

export type AccountService = ReturnType<typeof createAccountService>;

/** A proof that did not hold (a wrong password or code, a missing code). */
export type RefusedProof = Exclude<Proof, { account: unknown }>;

/** What a logged-in person does to their own account, after proving it with their password (and code, with TOTP). */
export function createAccountService({
  users,
  sessions,
  auth,
  passwords,
  confirmation,
}: {
  users: UserModel;
  sessions: RefreshSessions;
  auth: AuthService;
  passwords: Passwords;
  confirmation: Confirmation;
}) {
  return {
    /**
     * A new password: every other session ends, and this browser's session is replaced by a new one (new sid).
     * The refused proof when the current password (or the code) is wrong.
     */
    async changePassword(input: {
      user: AuthUser;
      currentPassword: string;
      code: string;
      newPassword: string;
      carried: CarriedTokens;
      client: { userAgent: string; ip: string };
      settle: SettleAttempt;
    }): Promise<{ issued: IssuedTokens } | RefusedProof> {
      const proof = await confirmation.prove({ userId: input.user.id, password: input.currentPassword, code: input.code, settle: input.settle });
      if (!('account' in proof)) return proof;
      const { account } = proof;
      const passwordHash = await passwords.hash(input.newPassword);
      // The others end first, so that an outage leaves nothing half done that matters; and again at the end,
      // for a login with the old password that was in flight meanwhile.
      await sessions.revokeAll(account.id, input.user.sid);
      await users.changePassword(account.id, passwordHash);
      // This browser's new session is a shared computer's when its old one was.
      const shared = (await sessions.state(input.user.id, input.user.sid))?.shared ?? false;
      const issued = await auth.startSession(account, input.carried, { ...input.client, shared });
      await sessions.revokeAll(account.id, issued.user.sid);
      return { issued };
    },

    /** Deletes the account and ends every session of it; the refused proof when the password (or the code) is wrong. */
    async deleteAccount(input: { user: AuthUser; password: string; code: string; settle: SettleAttempt }): Promise<{ deleted: true } | RefusedProof> {
      const proof = await confirmation.prove({ userId: input.user.id, password: input.password, code: input.code, settle: input.settle });
      if (!('account' in proof)) return proof;
      const { account } = proof;
      // As above: before the row goes (an outage leaves the account as it was) and after (a login in flight), so
      // that no session outlives the account into one that registers the id again.
      await sessions.revokeAll(account.id);
      await users.remove(account.id);
      await sessions.revokeAll(account.id);
      return { deleted: true };
    },
  };
}
