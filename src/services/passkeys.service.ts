import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AccountChanges } from '../models/accountChanges.js';
import type { PasskeyModel, PasskeySummary } from '../models/passkeys.js';
import type { SettleAttempt } from '../models/rateLimits.js';
import type { UserModel } from '../models/user.js';
import { HttpError } from '../utils/httpError.js';
import type { Challenges } from '../utils/challenges.js';
import type { LoginClient } from '../utils/http.js';
import type { AuthService, AuthUser, CarriedTokens, IssuedTokens } from './auth.service.js';
import type { Confirmation } from './confirmation.service.js';

/** Where the ceremony happens: the RP ID (a host name) and the origins the browser may report. */
export interface RelyingParty {
  rpId: string;
  origins: string[];
}

const RP_NAME = 'login-page';
const TRANSPORT = /^[a-z-]{1,20}$/;

const loginFailed = () => new HttpError(401, 'passkeys.loginFailed');
const confirmFailed = () => new HttpError(400, 'confirm.passkeyFailed');

/** The challenge the browser signed, read from its clientDataJSON; undefined when there is none to read. */
function challengeOf(response: AuthenticationResponseJSON): string | undefined {
  try {
    const clientData: unknown = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8'));
    const { challenge } = clientData as { challenge?: unknown };
    return typeof challenge === 'string' && /^[\w-]{16,128}$/.test(challenge) ? challenge : undefined;
  } catch {
    return undefined;
  }
}

const isResponse = <T>(value: unknown): value is T =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { id?: unknown }).id === 'string' &&
  typeof (value as { response?: unknown }).response === 'object';

export type PasskeyService = ReturnType<typeof createPasskeyService>;

/** A passkey's answer to a challenge of `purpose` bound to `binding`, from `owner`'s passkeys when named. */
interface Assertion {
  rp: RelyingParty;
  response: unknown;
  purpose: 'login' | 'confirm';
  binding: string;
  owner?: string;
}

/** Settles the throttle's reservation of an attempt: a success resets it, an outage gives it back, a refusal keeps it. */
async function counted<T>(settle: SettleAttempt, attempt: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await attempt();
  } catch (err) {
    if (!(err instanceof HttpError)) await settle('unchecked').catch(() => undefined);
    throw err;
  }
  await settle('succeeded');
  return result;
}

export function createPasskeyService({
  passkeys,
  users,
  auth,
  confirmation,
  challenges,
  accountChanges,
}: {
  passkeys: PasskeyModel;
  users: UserModel;
  auth: AuthService;
  confirmation: Confirmation;
  challenges: Challenges;
  accountChanges: AccountChanges;
}) {
  /** A passkey added or removed changes the account's summary. */
  const announced = async (userId: string, changed: boolean) => (changed && (await accountChanges.announce(userId)), changed);

  /**
   * The verified passkey's account id, after its challenge (issued by this site, unexpired) was spent and its
   * counter went up; throws `refusal` otherwise.
   */
  async function verifiedOwner({ rp, response, purpose, binding, owner }: Assertion, refusal: () => HttpError): Promise<string> {
    if (!isResponse<AuthenticationResponseJSON>(response)) throw refusal();
    const challenge = challengeOf(response);
    const issued = challenge && challenges.check(purpose, binding, challenge);
    if (!issued) throw refusal();
    const stored = await passkeys.find(response.id);
    if (!stored || (owner !== undefined && stored.userId.toLowerCase() !== owner.toLowerCase())) throw refusal();
    if (response.response.userHandle && response.response.userHandle !== stored.userHandle) throw refusal();
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: { id: stored.credentialId, publicKey: new Uint8Array(stored.publicKey), counter: stored.counter },
      // The passkey stands in for the password and TOTP: the device must have verified its user (PIN, biometrics).
      requireUserVerification: true,
    }).catch(() => undefined);
    if (!verification?.verified) throw refusal();
    // Of parallel uses of one assertion only one spends its challenge; of a cloned authenticator's, one moves the counter.
    if (!(await passkeys.spendChallenge(issued.nonce, issued.expiresAtMs))) throw refusal();
    if (!(await passkeys.recordUse(stored.credentialId, verification.authenticationInfo.newCounter))) throw refusal();
    return stored.userId;
  }

  return {
    list: (userId: string): Promise<PasskeySummary[]> => passkeys.listByUser(userId),

    remove: async (userId: string, credentialId: string): Promise<boolean> => announced(userId, await passkeys.remove(userId, credentialId)),

    rename: (userId: string, credentialId: string, name: string): Promise<boolean> => passkeys.rename(userId, credentialId, name),

    /** Options for a new passkey of this account: its existing ones excluded, one user handle for all of them. */
    async registrationOptions(user: AuthUser, rp: RelyingParty): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await passkeys.listByUser(user.id);
      const userHandle = existing[0]?.userHandle ?? randomBytes(32).toString('base64url');
      const options = await generateRegistrationOptions({
        rpName: RP_NAME,
        rpID: rp.rpId,
        userName: user.id,
        userDisplayName: user.name,
        userID: new Uint8Array(Buffer.from(userHandle, 'base64url')),
        attestationType: 'none',
        excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports as AuthenticatorTransport[] })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      });
      await passkeys.saveRegistration(user.id, { challenge: options.challenge, userHandle });
      return options;
    },

    /** Stores the browser's new passkey when it answers this account's pending challenge; false otherwise. */
    async register(user: AuthUser, rp: RelyingParty, response: unknown, name: string): Promise<boolean> {
      const pending = await passkeys.takeRegistration(user.id);
      if (!pending || !isResponse<RegistrationResponseJSON>(response)) return false;
      const verification = await verifyRegistrationResponse({
        response,
        expectedChallenge: pending.challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        requireUserVerification: false,
      }).catch(() => undefined);
      if (!verification?.verified) return false;
      const { credential } = verification.registrationInfo;
      const transports = (Array.isArray(response.response.transports) ? response.response.transports : []).filter((t) => TRANSPORT.test(String(t)));
      const added = await passkeys.add(user.id, {
        credentialId: credential.id,
        userHandle: pending.userHandle,
        publicKey: credential.publicKey,
        counter: credential.counter,
        transports: transports.slice(0, 8),
        name,
      });
      return announced(user.id, added);
    },

    /** Options for a login with any passkey of this site (discoverable credentials, user verified); nothing is stored. */
    loginOptions: (rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> =>
      generateAuthenticationOptions({ rpID: rp.rpId, userVerification: 'required', challenge: challenges.issue('login', '') }),

    /**
     * A login with the browser's assertion, counted by the login throttle before it is checked: a verified
     * assertion settles it as a success, an outage gives the point back, a failure (401) keeps it.
     */
    async login(input: { rp: RelyingParty; response: unknown; carried: CarriedTokens; client: LoginClient; settle: SettleAttempt }): Promise<IssuedTokens> {
      const assertion = { rp: input.rp, response: input.response, purpose: 'login', binding: '' } as const;
      const userId = await counted(input.settle, () => verifiedOwner(assertion, loginFailed));
      const account = await users.findById(userId);
      if (!account) throw loginFailed();
      if (account.locked) throw new HttpError(403, 'login.locked');
      return auth.startSession(account, input.carried, input.client, () => users.unchanged(account));
    },

    /** Options to confirm this session with one of the account's passkeys (user verified); bound to the session. */
    async confirmOptions(user: AuthUser, rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allowCredentials = (await passkeys.listByUser(user.id)).map((passkey) => ({
        id: passkey.credentialId,
        transports: passkey.transports as AuthenticatorTransport[],
      }));
      return generateAuthenticationOptions({ rpID: rp.rpId, userVerification: 'required', allowCredentials, challenge: challenges.issue('confirm', user.sid) });
    },

    /** Confirms this session with a passkey of its account, counted by the password re-check's throttle. */
    async confirm(input: { user: AuthUser; rp: RelyingParty; response: unknown; settle: SettleAttempt }): Promise<void> {
      const assertion = { rp: input.rp, response: input.response, purpose: 'confirm', binding: input.user.sid, owner: input.user.id } as const;
      await counted(input.settle, () => verifiedOwner(assertion, confirmFailed));
      if (!(await confirmation.markConfirmed(input.user))) throw new HttpError(401, 'auth.loginRequired');
    },
  };
}
