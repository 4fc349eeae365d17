import { createHash } from 'node:crypto';
import QRCode from 'qrcode';
import type { SettleAttempt } from '../models/rateLimits.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { SecondFactorModel } from '../models/secondFactor.js';
import type { User, UserModel } from '../models/user.js';
import type { ReservedTry, WaitingLogin, WaitingLoginRef, WaitingLogins } from '../models/waitingLogins.js';
import { HttpError } from '../utils/httpError.js';
import type { Passwords } from '../utils/password.js';
import { base32Of, groupRecoveryCode, matchingStep, newRecoveryCodes, newTotpSecret, readCode, totpUri, type SecondFactorKeys } from '../utils/secondFactor.js';
import { confirmAccount } from './account.service.js';
import type { AuthService, AuthUser, CarriedTokens, IssuedTokens } from './auth.service.js';

/** What the /user/2fa page shows: the state, and while off the secret to scan. */
export type TwoFactorPage = { enabled: true; recoveryCodesLeft: number } | { enabled: false; secret: string; uri: string; qrSvg: string };

/** How the second step of a login ended. */
export type SecondStep = { kind: 'wrong' } | { kind: 'ended' } | { kind: 'done'; issued: IssuedTokens; next: string };

/** The waiting login keeps a fingerprint of the password hash, never the hash itself. */
const fingerprint = (passwordHash: string) => createHash('sha256').update(passwordHash).digest('base64url');

export type TwoFactorService = ReturnType<typeof createTwoFactorService>;

/** TOTP with recovery codes: enrolment, the second step of a login, and turning it off. */
export function createTwoFactorService({
  users,
  secondFactor,
  waitingLogins,
  sessions,
  auth,
  passwords,
  keys,
}: {
  users: UserModel;
  secondFactor: SecondFactorModel;
  waitingLogins: WaitingLogins;
  sessions: RefreshSessions;
  auth: AuthService;
  passwords: Passwords;
  keys: SecondFactorKeys;
}) {
  /** Accepts a TOTP code of a later step than the last one, or an unused recovery code: each works once. */
  async function useCode(userId: string, typed: string): Promise<boolean> {
    const code = readCode(typed);
    if (!code) return false;
    if ('recovery' in code) return secondFactor.useRecoveryCode(userId, keys.hashRecoveryCode(userId, code.recovery));
    const stored = (await secondFactor.read(userId))?.secret;
    const key = stored ? keys.open(stored, userId) : undefined;
    const step = key ? matchingStep(key, code.totp) : undefined;
    return step !== undefined && secondFactor.acceptStep(userId, step);
  }

  /**
   * The secret offered for enrolment, sealed (as stored) and open: the same one until it is confirmed. Undefined when
   * TOTP is on. One that no longer opens (another TOTP_ENCRYPTION_KEY) is replaced, as a missing one is offered.
   */
  async function pendingSecret(userId: string): Promise<{ sealed: Buffer; key: Buffer } | undefined> {
    const opened = (sealed: Buffer | null | undefined) => {
      const key = sealed ? keys.open(sealed, userId) : undefined;
      return sealed && key ? { sealed, key } : undefined;
    };
    const state = await secondFactor.read(userId);
    if (!state || state.secret) return undefined;
    const pending = opened(state.pendingSecret);
    if (pending) return pending;
    // Parallel page loads agree on the first fresh secret stored.
    await secondFactor.offerSecret(userId, keys.seal(newTotpSecret(), userId), state.pendingSecret);
    return opened((await secondFactor.read(userId))?.pendingSecret);
  }

  /** After the code: the account must still be the one the password was checked for, unlocked. */
  async function startSession(waiting: WaitingLogin, carried: CarriedTokens, client: { userAgent: string; ip: string }): Promise<IssuedTokens | undefined> {
    const account = await users.findById(waiting.userId);
    if (!account || fingerprint(account.passwordHash) !== waiting.passwordFingerprint) return undefined;
    if (account.locked) throw new HttpError(403, 'login.locked');
    return auth.startSession(account, carried, client, () => users.unchanged(account));
  }

  return {
    async page(user: AuthUser): Promise<TwoFactorPage> {
      const state = await secondFactor.read(user.id);
      if (state?.secret) return { enabled: true, recoveryCodesLeft: state.recoveryCodesLeft };
      const pending = await pendingSecret(user.id);
      if (!pending) throw new HttpError(409, 'twoFactor.changed');
      const { key } = pending;
      const uri = totpUri(key, user.id);
      return { enabled: false, secret: base32Of(key), uri, qrSvg: await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }) };
    },

    /**
     * Turns TOTP on when `code` is right for the pending secret; every other session of the account ends.
     * Returns the recovery codes (grouped, shown once), or undefined for a wrong code.
     */
    async enable(user: AuthUser, code: string): Promise<string[] | undefined> {
      const pending = await pendingSecret(user.id);
      const totp = readCode(code);
      const step = pending && totp && 'totp' in totp ? matchingStep(pending.key, totp.totp) : undefined;
      if (!pending || step === undefined) return undefined;
      const codes = newRecoveryCodes();
      const hashes = codes.map((recovery) => keys.hashRecoveryCode(user.id, recovery));
      if (!(await secondFactor.enable(user.id, pending.sealed, step, hashes))) return undefined;
      await sessions.revokeAll(user.id, user.sid);
      return codes.map(groupRecoveryCode);
    },

    /** Turns TOTP off when both the password and a code are right; false otherwise (counted as a failed login). */
    async disable(input: { user: AuthUser; password: string; code: string; settle: SettleAttempt }): Promise<boolean> {
      const useIt = (account: User) => (account.hasTotp ? useCode(account.id, input.code) : Promise.resolve(false));
      const account = await confirmAccount({ users, passwords }, input.user.id, input.password, input.settle, useIt);
      if (account) await secondFactor.disable(account.id);
      return account !== undefined;
    },

    /** After the right password of an account with TOTP: a waiting login bound to the account and to `next` (or a wait while its wrong codes are spent). */
    beginLogin: (account: User, next: string): Promise<{ ref: WaitingLoginRef } | { waitMs: number }> =>
      waitingLogins.begin({ userId: account.id, next, passwordFingerprint: fingerprint(account.passwordHash) }),

    isWaiting: (ref: WaitingLoginRef): Promise<boolean> => waitingLogins.exists(ref),

    /** Counts a code against the waiting login's five tries and the account's wrong codes before it is checked. */
    reserveTry: (ref: WaitingLoginRef): Promise<ReservedTry> => waitingLogins.reserveTry(ref),

    /**
     * The second step, after reserveTry and the login throttle's reservation (`settle`): a wrong code stays
     * counted (and the fifth ends the waiting login); a right one takes the waiting login and starts the session.
     */
    async finishLogin(input: {
      ref: WaitingLoginRef;
      waiting: WaitingLogin;
      code: string;
      carried: CarriedTokens;
      client: { userAgent: string; ip: string };
      settle: SettleAttempt;
    }): Promise<SecondStep> {
      let right: boolean;
      try {
        right = await useCode(input.waiting.userId, input.code);
      } catch (err) {
        // An outage checked nothing: both tries are given back, as far as the stores let us.
        await Promise.allSettled([input.settle('unchecked'), waitingLogins.settleTry(input.ref, 'refund')]);
        throw err;
      }
      if (!right) return (await waitingLogins.settleTry(input.ref, 'wrong')) ? { kind: 'wrong' } : { kind: 'ended' };
      await input.settle('succeeded');
      if (!(await waitingLogins.settleTry(input.ref, 'right'))) return { kind: 'ended' };
      const issued = await startSession(input.waiting, input.carried, input.client);
      return issued ? { kind: 'done', issued, next: input.waiting.next } : { kind: 'ended' };
    },
  };
}
