import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { deriveKey, open, seal } from './sealed.js';

/** RFC 6238 as every authenticator app reads it: SHA-1, 6 digits, 30 s, and one step of clock drift either way. */
const TOTP_PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
const DRIFT_STEPS = 1;
export const TOTP_ISSUER = 'login-page';
export const RECOVERY_CODE_COUNT = 10;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const RECOVERY_CODE_CHARS = 10; // 50 bits each: a keyed hash is enough, no slow hash needed

const secretOf = (key: Buffer) => new Secret({ buffer: new Uint8Array(key).buffer });

/** A fresh TOTP secret: 20 random bytes (160 bits, RFC 4226's recommendation). */
export const newTotpSecret = (): Buffer => randomBytes(20);

export const base32Of = (key: Buffer): string => secretOf(key).base32;

/** The otpauth://totp/ URI an authenticator app scans: issuer, the account id as label, the secret. */
export const totpUri = (key: Buffer, accountId: string): string =>
  new TOTP({ issuer: TOTP_ISSUER, label: accountId, secret: secretOf(key), ...TOTP_PARAMS }).toString();

/** The time step a six-digit `token` belongs to (within the drift allowed), or undefined when it matches none. */
export function matchingStep(key: Buffer, token: string, now = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(token)) return undefined;
  const delta = TOTP.validate({ token, secret: secretOf(key), ...TOTP_PARAMS, timestamp: now, window: DRIFT_STEPS });
  return delta === null ? undefined : TOTP.counter({ period: TOTP_PARAMS.period, timestamp: now }) + delta;
}

/** What the person typed into `code`: a TOTP code (6 digits) or a recovery code (spaces, hyphens and case ignored). */
export function readCode(typed: string): { totp: string } | { recovery: string } | undefined {
  const compact = typed.replace(/[\s-]/g, '').toUpperCase();
  if (/^\d{6}$/.test(compact)) return { totp: compact };
  if (compact.length === RECOVERY_CODE_CHARS && [...compact].every((c) => BASE32.includes(c))) return { recovery: compact };
  return undefined;
}

/** Ten recovery codes as stored (`ABCDEFGHIJ`); people see them grouped (`ABCDE-FGHIJ`). */
export const newRecoveryCodes = (): string[] =>
  Array.from({ length: RECOVERY_CODE_COUNT }, () => Array.from({ length: RECOVERY_CODE_CHARS }, () => BASE32[randomInt(32)]).join(''));

export const groupRecoveryCode = (code: string): string => `${code.slice(0, 5)}-${code.slice(5)}`;

export type SecondFactorKeys = ReturnType<typeof createSecondFactorKeys>;

/**
 * The keys derived once from TOTP_ENCRYPTION_KEY (HKDF-SHA256): one encrypts TOTP secrets (AES-256-GCM, a
 * random IV each time, the account as additional data, so a ciphertext moved to another row does not open),
 * the other keys the recovery codes' hashes.
 */
export function createSecondFactorKeys(masterKey: string) {
  const encryption = deriveKey(masterKey, 'totp secret encryption');
  const recovery = deriveKey(masterKey, 'recovery code hash');
  const accountData = (accountId: string) => Buffer.from(`totp:${accountId.toLowerCase()}`);

  return {
    /** IV, tag and ciphertext in one value. */
    seal: (key: Buffer, accountId: string): Buffer => seal(encryption, key, accountData(accountId)),

    /**
     * The key, or undefined when the value was changed, belongs to another account (a secret moved to another
     * account's row matches no code there) or was sealed under another TOTP_ENCRYPTION_KEY.
     */
    open: (stored: Buffer, accountId: string): Buffer | undefined => open(encryption, stored, accountData(accountId)),

    /** HMAC-SHA256 of the account and the code: equal codes of two accounts hash differently. */
    hashRecoveryCode: (accountId: string, code: string): Buffer => createHmac('sha256', recovery).update(`${accountId.toLowerCase()}:${code}`).digest(),
  };
}
