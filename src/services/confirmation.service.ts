import type { SettleAttempt } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { User, UserModel } from '../models/user.js';
import type { Passwords } from '../utils/password.js';
import type { AuthUser } from './auth.service.js';
import type { SecondFactorCodes } from './codes.service.js';

/** How a proof went: the account, or what was wrong (the password, or with TOTP the code, wrong or missing). */
export type Proof = { account: User } | { wrong: 'password' | 'code' } | { missing: 'code' };

export type Confirmation = ReturnType<typeof createConfirmation>;

/**
 * "Confirming it's you", one mechanism for every area: the proof (the password, plus a code when the account has
 * TOTP) that the password change, the deletion, turning TOTP off and /user/confirm ask for; and the session's
 * confirmed state (set at its login and by /user/confirm, kept in Redis with the session) that guarded routes read.
 */
export function createConfirmation({
  users,
  passwords,
  sessions,
  codes,
  stepUpMs,
}: {
  users: UserModel;
  passwords: Passwords;
  sessions: RefreshSessions;
  codes: SecondFactorCodes;
  stepUpMs: number;
}) {
  return {
    stepUpMs,

    /**
     * Checks the proof after the login throttle reserved the password attempt (`settle`): right, the reservation is
     * a success; a wrong password or code keeps it counted as a failed login (a wrong code also counts toward the
     * account's wrong codes, as at the login's code step); an outage, a missing code or spent codes give it back.
     */
    async prove(input: { userId: string; password: string; code: string; settle: SettleAttempt }): Promise<Proof> {
      const giveBack = () => input.settle('unchecked').catch(() => undefined);
      try {
        const found = await users.findById(input.userId);
        // verify() is false without an account, after the same work.
        if (!(await passwords.verify(found?.passwordHash, input.password)) || !found) return { wrong: 'password' };
        if (found.hasTotp && !input.code.trim()) {
          await giveBack();
          return { missing: 'code' };
        }
        if (found.hasTotp && !(await codes.check(found.id, input.code))) return { wrong: 'code' };
        await input.settle('succeeded');
        return { account: found };
      } catch (err) {
        await giveBack();
        throw err;
      }
    },

    /** Whether the proof of this account asks for a code besides the password (it has TOTP). */
    asksCode: async (userId: string): Promise<boolean> => (await users.findById(userId))?.hasTotp === true,

    /** Whether this session was confirmed within STEP_UP_TTL (an ended session is not). */
    async isConfirmed(user: AuthUser): Promise<boolean> {
      const state = await sessions.state(user.id, user.sid);
      return state !== undefined && Date.now() - state.confirmedAt < stepUpMs;
    },

    /** Confirms this session (not the account's others) for STEP_UP_TTL; false when it has ended. */
    markConfirmed: (user: AuthUser): Promise<boolean> => sessions.confirm(user.id, user.sid),
  };
}
