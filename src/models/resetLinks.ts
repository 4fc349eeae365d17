import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { execute, micros, type Sql } from './transaction.js';
import { changed } from './user.js';

/** A post that is setting a new password holds its link this long; parallel posts of the same link are refused meanwhile. */
const CLAIM_MS = 60_000;

// A link is good while unexpired and issued under the password hash the account has now: any change of it voids the link.
const GOOD = `t.purpose = 'reset-password' AND t.expires_at > NOW(3) AND t.password_fingerprint = UNHEX(SHA2(u.password_hash, 256))`;

export type ResetLinks = ReturnType<typeof createResetLinks>;

/** Password reset links (table `account_tokens`, migration 006-mail): only their hashes, bound to the password hash. */
export function createResetLinks(db: Db) {
  return {
    /**
     * Stores a link for the account `userId` valid `ttlMs` (its expired links go; in `conn`'s transaction when given); with `userId` null the same
     * statements run and store nothing, so that a request that matched no account does the same work. True when stored.
     */
    async issue(userId: string | null, tokenHash: Buffer, ttlMs: number, conn: Sql = db): Promise<boolean> {
      const expired = 'DELETE t FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ? AND t.expires_at <= NOW(3)';
      await execute<ResultSetHeader>(conn, expired, [userId]);
      const sql = `INSERT INTO account_tokens (token_hash, user_pk, purpose, password_fingerprint, expires_at)
        SELECT ?, pk, 'reset-password', UNHEX(SHA2(password_hash, 256)), NOW(3) + INTERVAL ? MICROSECOND FROM users WHERE id = ?`;
      return changed(await execute<ResultSetHeader>(conn, sql, [tokenHash, micros(ttlMs), userId]));
    },

    /** The account a good link resets, or undefined. */
    async accountOf(tokenHash: Buffer): Promise<string | undefined> {
      const sql = `SELECT u.id FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE t.token_hash = ? AND ${GOOD}`;
      const [rows] = await execute<RowDataPacket[]>(db, sql, [tokenHash]);
      return rows[0]?.id as string | undefined;
    },

    /** Holds a good link for one post (before its password is hashed); false when it is not good or another post holds it. */
    async claim(tokenHash: Buffer): Promise<boolean> {
      const sql = `UPDATE account_tokens t JOIN users u ON u.pk = t.user_pk SET t.claimed_until = NOW(3) + INTERVAL ? MICROSECOND
        WHERE t.token_hash = ? AND ${GOOD} AND (t.claimed_until IS NULL OR t.claimed_until <= NOW(3))`;
      return changed(await execute<ResultSetHeader>(db, sql, [micros(CLAIM_MS), tokenHash]));
    },

    /** Lets go of a claimed link whose post did not set the password (refused, or a store failed). */
    async release(tokenHash: Buffer): Promise<void> {
      await execute<ResultSetHeader>(db, 'UPDATE account_tokens SET claimed_until = NULL WHERE token_hash = ?', [tokenHash]);
    },

    /**
     * Sets the new password hash through a good link, and spends it with every other reset link of the account.
     * False when the link is no longer good (the password changed meanwhile).
     */
    async spend(conn: Sql, tokenHash: Buffer, userId: string, passwordHash: string): Promise<boolean> {
      const sql = `UPDATE users u JOIN account_tokens t ON t.user_pk = u.pk SET u.password_hash = ? WHERE t.token_hash = ? AND ${GOOD}`;
      if (!changed(await execute<ResultSetHeader>(conn, sql, [passwordHash, tokenHash]))) return false;
      await execute<ResultSetHeader>(conn, "DELETE t FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ? AND t.purpose = 'reset-password'", [
        userId,
      ]);
      return true;
    },
  };
}
