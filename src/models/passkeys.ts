import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db, Redis } from '../config/clients.js';
import { redisCall } from './storeErrors.js';
import { changed, ER_DUP_ENTRY } from './user.js';
import { execute } from './transaction.js';

/** What the server keeps of a passkey: its public key and signature counter, never a secret. */
export interface StoredPasskey {
  credentialId: string;
  userId: string;
  /** The opaque WebAuthn user handle (base64url), the same for every passkey of an account. */
  userHandle: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
}

/** A passkey as its owner's list shows it. */
export interface PasskeySummary {
  credentialId: string;
  userHandle: string;
  transports: string[];
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface PasskeyRow extends RowDataPacket {
  credential_id: string;
  user_id: string;
  user_handle: string;
  public_key: Buffer;
  counter: number;
  transports: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** A challenge lives this long, and is answered once. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

const transportsOf = (row: PasskeyRow) => (row.transports ? row.transports.split(',') : []);

// The column is ASCII (base64url, at most 1400): any other value is no passkey, and MySQL would refuse to compare it.
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,1400}$/;
const isCredentialId = (value: string) => CREDENTIAL_ID.test(value);

export type PasskeyModel = ReturnType<typeof createPasskeyModel>;

export function createPasskeyModel(db: Db, redis: Redis, keyPrefix: string) {
  // A registration waits under its account's hash tag; a spent login or confirm challenge is named by its nonce.
  const registrationKey = (userId: string) => `${keyPrefix}passkey:register:{${userId}}`;
  const spentKey = (nonce: string) => `${keyPrefix}passkey:spent:${nonce}`;
  const expiration = { type: 'PX', value: CHALLENGE_TTL_MS } as const;

  return {
    async listByUser(userId: string): Promise<PasskeySummary[]> {
      const sql = `SELECT p.credential_id, p.user_handle, p.transports, p.name, p.created_at, p.last_used_at
        FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ? ORDER BY p.created_at, p.pk`;
      const [rows] = await execute<PasskeyRow[]>(db, sql, [userId]);
      return rows.map((row) => ({
        credentialId: row.credential_id,
        userHandle: row.user_handle,
        transports: transportsOf(row),
        name: row.name,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
      }));
    },

    /** Stores a new passkey of the account; false when the credential is already registered (or the account is gone). */
    async add(userId: string, passkey: Omit<StoredPasskey, 'userId'> & { name: string }): Promise<boolean> {
      const sql = `INSERT INTO passkeys (credential_id, user_pk, user_handle, public_key, counter, transports, name)
        SELECT ?, pk, ?, ?, ?, ?, ? FROM users WHERE id = ?`;
      const { credentialId, userHandle, publicKey, counter, transports, name } = passkey;
      const values = [credentialId, userHandle, Buffer.from(publicKey), counter, transports.join(','), name, userId];
      try {
        return changed(await execute<ResultSetHeader>(db, sql, values));
      } catch (err) {
        if ((err as { errno?: number }).errno === ER_DUP_ENTRY) return false;
        throw err;
      }
    },

    async find(credentialId: string): Promise<StoredPasskey | undefined> {
      if (!isCredentialId(credentialId)) return undefined;
      const sql = `SELECT p.credential_id, u.id AS user_id, p.user_handle, p.public_key, p.counter, p.transports
        FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE p.credential_id = ?`;
      const [rows] = await execute<PasskeyRow[]>(db, sql, [credentialId]);
      const row = rows[0];
      return (
        row && {
          credentialId: row.credential_id,
          userId: row.user_id,
          userHandle: row.user_handle,
          publicKey: new Uint8Array(row.public_key),
          counter: row.counter,
          transports: transportsOf(row),
        }
      );
    },

    /**
     * Records a verified use: only when the counter went up (or the authenticator keeps none: both zero). False
     * means another request got there first with this counter, or a cloned authenticator: refuse it.
     */
    async recordUse(credentialId: string, newCounter: number): Promise<boolean> {
      const sql = `UPDATE passkeys SET counter = ?, last_used_at = CURRENT_TIMESTAMP
        WHERE credential_id = ? AND (counter < ? OR (counter = 0 AND ? = 0))`;
      return changed(await execute<ResultSetHeader>(db, sql, [newCounter, credentialId, newCounter, newCounter]));
    },

    /** Renames a passkey of this account only; false when the account has no such passkey. */
    async rename(userId: string, credentialId: string, name: string): Promise<boolean> {
      if (!isCredentialId(credentialId)) return false;
      const sql = 'UPDATE passkeys p JOIN users u ON u.pk = p.user_pk SET p.name = ? WHERE u.id = ? AND p.credential_id = ?';
      return changed(await execute<ResultSetHeader>(db, sql, [name, userId, credentialId]));
    },

    /** Removes a passkey of this account only: its name (for the activity page), undefined when the account has no such passkey. */
    async remove(userId: string, credentialId: string): Promise<string | undefined> {
      if (!isCredentialId(credentialId)) return undefined;
      const find = 'SELECT p.name FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ? AND p.credential_id = ?';
      const [[found]] = await execute<RowDataPacket[]>(db, find, [userId, credentialId]);
      const sql = 'DELETE p FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ? AND p.credential_id = ?';
      const removed = changed(await execute<ResultSetHeader>(db, sql, [userId, credentialId]));
      return removed ? ((found?.name as string | undefined) ?? '') : undefined;
    },

    /** The account's pending registration (its challenge and user handle), replacing an earlier one. */
    async saveRegistration(userId: string, pending: { challenge: string; userHandle: string }): Promise<void> {
      await redisCall(() => redis.set(registrationKey(userId), JSON.stringify(pending), { expiration }));
    },

    /** Takes the pending registration: a second answer to the same challenge finds nothing. */
    async takeRegistration(userId: string): Promise<{ challenge: string; userHandle: string } | undefined> {
      const value = await redisCall(() => redis.getDel(registrationKey(userId)));
      return typeof value === 'string' ? (JSON.parse(value) as { challenge: string; userHandle: string }) : undefined;
    },

    /**
     * Records that a (stateless, utils/challenges.ts) challenge was answered, until it expires anyway: true for the
     * first answer only, so of parallel answers one passes.
     */
    async spendChallenge(nonce: string, expiresAtMs: number): Promise<boolean> {
      const ttl = { type: 'PX', value: Math.max(1, expiresAtMs - Date.now()) } as const;
      return (await redisCall(() => redis.set(spentKey(nonce), '1', { condition: 'NX', expiration: ttl }))) === 'OK';
    },
  };
}
