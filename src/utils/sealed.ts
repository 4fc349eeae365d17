import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
// Pinned on both sides: without it a decipher accepts a truncated tag (4 bytes are forged in 2^32 tries).
const GCM = { authTagLength: TAG_BYTES };

/** A key of its own for one purpose, derived (HKDF-SHA256) from a master secret such as TOTP_ENCRYPTION_KEY. */
export const deriveKey = (masterKey: string, purpose: string): KeyObject =>
  createSecretKey(Buffer.from(hkdfSync('sha256', masterKey, '', `login-page ${purpose}`, 32)));

/** AES-256-GCM with a fresh 12-byte IV: IV, tag and ciphertext in one value, bound to `context` (additional data). */
export function seal(key: KeyObject, plain: Buffer, context: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, GCM).setAAD(context);
  const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
}

/** The plain value, or undefined when the value was changed, sealed for another context or under another key. */
export function open(key: KeyObject, stored: Buffer, context: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(0, IV_BYTES), GCM).setAAD(context);
    decipher.setAuthTag(stored.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(stored.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
