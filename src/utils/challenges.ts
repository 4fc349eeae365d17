import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';

const NONCE_BYTES = 16;
const DEADLINE_BYTES = 6; // milliseconds since 1970 fit in 48 bits for thousands of years
const MAC_BYTES = 16;
const BODY_BYTES = NONCE_BYTES + DEADLINE_BYTES;

/** What a challenge proves once its MAC checked out: which one it is (for its single use) and until when it holds. */
export interface IssuedChallenge {
  nonce: string;
  expiresAtMs: number;
}

export type Challenges = ReturnType<typeof createChallenges>;

/**
 * WebAuthn challenges that the site keeps nowhere: a random nonce, a deadline and a MAC (HMAC-SHA256, keyed from
 * COOKIE_SECRET) over both, the purpose and what the challenge is bound to (a session, or nothing before login).
 * Issuing one stores nothing, so anonymous callers cannot fill Redis; its single use is recorded at verification.
 */
export function createChallenges(secret: string, ttlMs: number) {
  const key = createSecretKey(createHmac('sha256', secret).update('login-page webauthn challenge').digest());
  const macOf = (purpose: string, binding: string, body: Buffer) =>
    createHmac('sha256', key).update(`${purpose}\0${binding}\0`).update(body).digest().subarray(0, MAC_BYTES);

  return {
    ttlMs,

    /** A fresh challenge (its bytes, as the options carry them) for `purpose`, bound to `binding`. */
    issue(purpose: string, binding: string): Uint8Array<ArrayBuffer> {
      const body = Buffer.alloc(BODY_BYTES);
      randomBytes(NONCE_BYTES).copy(body);
      body.writeUIntBE(Date.now() + ttlMs, NONCE_BYTES, DEADLINE_BYTES);
      return new Uint8Array(Buffer.concat([body, macOf(purpose, binding, body)]));
    },

    /** The challenge (base64url, as clientDataJSON names it) when this site issued it for `purpose` and `binding`, unexpired. */
    check(purpose: string, binding: string, challenge: string): IssuedChallenge | undefined {
      const raw = Buffer.from(challenge, 'base64url');
      if (raw.length !== BODY_BYTES + MAC_BYTES || raw.toString('base64url') !== challenge) return undefined;
      const body = raw.subarray(0, BODY_BYTES);
      if (!timingSafeEqual(raw.subarray(BODY_BYTES), macOf(purpose, binding, body))) return undefined;
      const expiresAtMs = body.readUIntBE(NONCE_BYTES, DEADLINE_BYTES);
      return expiresAtMs > Date.now() ? { nonce: body.subarray(0, NONCE_BYTES).toString('base64url'), expiresAtMs } : undefined;
    },
  };
}
