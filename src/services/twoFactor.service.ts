import { createHash } from 'node:crypto';
import QRCode from 'qrcode';
import type { SettleAttempt } from '../models/rateLimits.js';
import type { AccountChanges } from '../models/accountChanges.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { SecondFactorModel } from '../models/secondFactor.js';
import type { User, UserModel } from '../models/user.js';
import type { ReservedTry, WaitingLogin, WaitingLoginRef, WaitingLogins } from '../models/waitingLogins.js';
import { HttpError } from '../utils/httpError.js';
import { base32Of, groupRecoveryCode, matchingStep, newRecoveryCodes, newTotpSecret, readCode, totpUri, type SecondFactorKeys } from '../utils/secondFactor.js';
import type { AuthService, AuthUser, CarriedTokens, IssuedTokens } from './auth.service.js';
import type { SecondFactorCodes } from './codes.service.js';
import type { Confirmation, Proof } from './confirmation.service.js';

/** What the /user/2fa page shows: the state, and while off the secret to scan. */
export type TwoFactorPage = { enabled: true; recoveryCodesLeft: number } | { enabled: false; secret: string; uri: string; qrSvg: string };

/** How the second step of a login ended. */
export type SecondStep = { kind: 'wrong' } | { kind: 'ended' } | { kind: 'done'; issued: IssuedTokens; next: string };

/** The waiting login keeps a fingerprint of the password hash, never the hash itself. */
const fingerprint = (passwordHash: string) => createHash('sha256').update(passwordHash).digest('base64url');

/** The secret offered for enrolment lives with the session that was shown it, and this long at most. */
export const OFFERED_SECRET_MS = 10 * 60_000;

export type TwoFactorService = ReturnType<typeof createTwoFactorService>;

/** TOTP with recovery codes: enrolment, the second step of a login, new recovery codes, and turning it off. */
export function createTwoFactorService({
  users,
  secondFactor,
  codes,
  confirmation,
  waitingLogins,
  sessions,
  accountChanges,
  auth,
  keys,
}: {
  users: UserModel;
  secondFactor: SecondFactorModel;
  codes: SecondFactorCodes;
  confirmation: Confirmation;
  waitingLogins: WaitingLogins;
  sessions: RefreshSessions;
  accountChanges: AccountChanges;
  auth: AuthService;
  keys: SecondFactorKeys;
}) {
  /**
   * The secret offered to this session for enrolment, sealed (as kept) and open: the same one across reloads for
   * OFFERED_SECRET_MS, then a fresh one; it ends with the session (a thief's ended session takes it along). One that no
   * longer opens (another TOTP_ENCRYPTION_KEY) is replaced. Undefined when the session has ended.
   */
  async function offeredSecret(user: AuthUser): Promise<{ sealed: Buffer; key: Buffer } | undefined> {
    const offer = (replacing?: string) =>
      sessions.keep(user.id, user.sid, 'totpOffered', keys.seal(newTotpSecret(), user.id).toString('base64'), { maxAgeMs: OFFERED_SECRET_MS, replacing });
    const opened = (kept: string | undefined) => {
      const sealed = kept === undefined ? undefined : Buffer.from(kept, 'base64');
      const key = sealed && keys.open(sealed, user.id);
      return sealed && key ? { sealed, key } : undefined;
    };
    const kept = await offer();
    return kept === undefined ? undefined : (opened(kept) ?? opened(await offer(kept)));
  }

  /** The offered secret still kept for this session (not one made now: a code can only match a secret shown before). */
  async function keptSecret(user: AuthUser): Promise<{ sealed: Buffer; key: Buffer } | undefined> {
    const kept = await sessions.kept(user.id, user.sid, 'totpOffered', OFFERED_SECRET_MS);
    const sealed = kept === undefined ? undefined : Buffer.from(kept, 'base64');
    const key = sealed && keys.open(sealed, user.id);
    return sealed && key ? { sealed, key } : undefined;
  }

  /** Ten new recovery codes, grouped to be shown once, and their hashes to store. */
  function recoveryCodesFor(userId: string): { shown: string[]; hashes: Buffer[] } {
    const fresh = newRecoveryCodes();
    return { shown: fresh.map(groupRecoveryCode), hashes: fresh.map((code) => keys.hashRecoveryCode(userId, code)) };
  }

  /** After the code: the account must still be the one the password was checked for, unlocked. */
  async function startSession(waiting: WaitingLogin, carried: CarriedTokens, client: { userAgent: string; ip: string }) {
    const account = await users.findById(waiting.userId);
    if (!account || fingerprint(account.passwordHash) !== waiting.passwordFingerprint) return undefined;
    if (account.locked) throw new HttpError(403, 'login.locked');
    return auth.startSession(account, carried, { ...client, shared: waiting.shared }, () => users.unchanged(account));
  }

  return {
    async page(user: AuthUser): Promise<TwoFactorPage> {
      const state = await secondFactor.read(user.id);
      if (state?.secret) return { enabled: true, recoveryCodesLeft: state.recoveryCodesLeft };
      const offered = state && (await offeredSecret(user));
      if (!offered) throw new HttpError(409, 'twoFactor.changed');
      const uri = totpUri(offered.key, user.id);
      return { enabled: false, secret: base32Of(offered.key), uri, qrSvg: await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }) };
    },

    /**
     * Turns TOTP on when `code` is right for the secret this session was offered; every other session of the
     * account ends. Returns the recovery codes (grouped, shown once), or undefined for a wrong code.
     */
    async enable(user: AuthUser, code: string): Promise<string[] | undefined> {
      const offered = await keptSecret(user);
      const totp = readCode(code);
      const step = offered && totp && 'totp' in totp ? matchingStep(offered.key, totp.totp) : undefined;
      if (!offered || step === undefined) return undefined;
      const recovery = recoveryCodesFor(user.id);
      if (!(await secondFactor.enable(user.id, offered.sealed, step, recovery.hashes))) return undefined;
      await sessions.forget(user.id, user.sid, 'totpOffered');
      await sessions.revokeAll(user.id, user.sid);
      await accountChanges.announce(user.id);
      return recovery.shown;
    },

    /** Ten new recovery codes in place of the old ones (TOTP on); undefined when TOTP is off. */
    async renewRecoveryCodes(user: AuthUser): Promise<string[] | undefined> {
      const recovery = recoveryCodesFor(user.id);
      return (await secondFactor.replaceRecoveryCodes(user.id, recovery.hashes)) ? recovery.shown : undefined;
    },

    /** Turns TOTP off after the proof (the password and a code); the refused proof otherwise (counted as at login). */
    async disable(input: {
      user: AuthUser;
      password: string;
      code: string;
      settle: SettleAttempt;
    }): Promise<{ disabled: true } | Exclude<Proof, { account: unknown }>> {
      const proof = await confirmation.prove({ userId: input.user.id, password: input.password, code: input.code, settle: input.settle });
      if (!('account' in proof)) return proof;
      await secondFactor.disable(proof.account.id);
      await accountChanges.announce(proof.account.id);
      return { disabled: true };
    },

    /** After the right password of an account with TOTP: a waiting login bound to the account and to `next` (or a wait while its wrong codes are spent). */
    beginLogin: (account: User, next: string, shared: boolean): Promise<{ ref: WaitingLoginRef } | { waitMs: number }> =>
      waitingLogins.begin({ userId: account.id, next, passwordFingerprint: fingerprint(account.passwordHash), shared }),

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
        right = await codes.use(input.waiting.userId, input.code);
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
