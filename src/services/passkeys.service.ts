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
import type { PasskeyModel, PasskeySummary } from '../models/passkeys.js';
import type { SettleAttempt } from '../models/rateLimits.js';
import type { UserModel } from '../models/user.js';
import { HttpError } from '../utils/httpError.js';
import type { AuthService, AuthUser, CarriedTokens, IssuedTokens } from './auth.service.js';

/** Where the ceremony happens: the RP ID (a host name) and the origins the browser may report. */
export interface RelyingParty {
  rpId: string;
  origins: string[];
}

const RP_NAME = 'login-page';
const TRANSPORT = /^[a-z-]{1,20}$/;

const loginFailed = () => new HttpError(401, 'passkeys.loginFailed');

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

export function createPasskeyService({ passkeys, users, auth }: { passkeys: PasskeyModel; users: UserModel; auth: AuthService }) {
  /** The verified passkey's account id, after its challenge was taken and its counter went up; throws 401 otherwise. */
  async function verifiedOwner(rp: RelyingParty, response: unknown): Promise<string> {
    if (!isResponse<AuthenticationResponseJSON>(response)) throw loginFailed();
    const challenge = challengeOf(response);
    if (!challenge || !(await passkeys.takeLoginChallenge(challenge))) throw loginFailed();
    const stored = await passkeys.find(response.id);
    if (!stored || (response.response.userHandle && response.response.userHandle !== stored.userHandle)) throw loginFailed();
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: { id: stored.credentialId, publicKey: new Uint8Array(stored.publicKey), counter: stored.counter },
      // The passkey stands in for the password and TOTP: the device must have verified its user (PIN, biometrics).
      requireUserVerification: true,
    }).catch(() => undefined);
    if (!verification?.verified) throw loginFailed();
    // Of parallel uses of one assertion (or a cloned authenticator's) only one moves the counter.
    if (!(await passkeys.recordUse(stored.credentialId, verification.authenticationInfo.newCounter))) throw loginFailed();
    return stored.userId;
  }

  return {
    list: (userId: string): Promise<PasskeySummary[]> => passkeys.listByUser(userId),

    remove: (userId: string, credentialId: string): Promise<boolean> => passkeys.remove(userId, credentialId),

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
      return passkeys.add(user.id, {
        credentialId: credential.id,
        userHandle: pending.userHandle,
        publicKey: credential.publicKey,
        counter: credential.counter,
        transports: transports.slice(0, 8),
        name,
      });
    },

    /** Options for a login with any passkey of this site (discoverable credentials, user verified): a fresh single-use challenge. */
    async loginOptions(rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const options = await generateAuthenticationOptions({ rpID: rp.rpId, userVerification: 'required' });
      await passkeys.saveLoginChallenge(options.challenge);
      return options;
    },

    /**
     * A login with the browser's assertion, counted by the login throttle before it is checked: a verified
     * assertion settles it as a success, an outage gives the point back, a failure (401) keeps it.
     */
    async login(input: {
      rp: RelyingParty;
      response: unknown;
      carried: CarriedTokens;
      client: { userAgent: string; ip: string };
      settle: SettleAttempt;
    }): Promise<IssuedTokens> {
      let userId: string;
      try {
        userId = await verifiedOwner(input.rp, input.response);
      } catch (err) {
        if (!(err instanceof HttpError)) await input.settle('unchecked').catch(() => undefined);
        throw err;
      }
      await input.settle('succeeded');
      const account = await users.findById(userId);
      if (!account) throw loginFailed();
      if (account.locked) throw new HttpError(403, 'login.locked');
      return auth.startSession(account, input.carried, input.client, () => users.unchanged(account));
    },
  };
}
