import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { execute, inTransaction, micros, type Sql } from './transaction.js';
import { ER_DUP_ENTRY } from './user.js';

/** How a verification link went: the address is the account's now, or the link was no good, or another account verified it first. */
export type Verified = { verified: { userId: string; address: string } } | { invalid: true } | { taken: true };

export type EmailAddresses = ReturnType<typeof createEmailAddresses>;

/** The email columns of `users` and their verification links (migration 006-mail); only a link's hash is stored. */
export function createEmailAddresses(db: Db) {
  return {
    /** The account that has verified this (normalised) address, if one has. */
    async verifiedBy(conn: Sql, address: string): Promise<string | undefined> {
      const [rows] = await execute<RowDataPacket[]>(conn, 'SELECT id FROM users WHERE email = ?', [address]);
      return rows[0]?.id as string | undefined;
    },

    /**
     * The address waiting for its link (null: none); every earlier verification link of the account is void, and
     * its expired links of any kind go. The verified address, if any, stays in use meanwhile.
     */
    async setPending(conn: Sql, userId: string, address: string | null): Promise<void> {
      await execute<ResultSetHeader>(conn, 'UPDATE users SET email_pending = ? WHERE id = ?', [address, userId]);
      const voided = `DELETE t FROM account_tokens t JOIN users u ON u.pk = t.user_pk
        WHERE u.id = ? AND (t.purpose = 'verify-email' OR t.expires_at <= NOW(3))`;
      await execute<ResultSetHeader>(conn, voided, [userId]);
    },

    /** Stores a verification link (its hash) of `address` for the account, valid `ttlMs`. */
    async issueLink(conn: Sql, userId: string, tokenHash: Buffer, address: string, ttlMs: number): Promise<void> {
      const sql = `INSERT INTO account_tokens (token_hash, user_pk, purpose, email, expires_at)
        SELECT ?, pk, 'verify-email', ?, NOW(3) + INTERVAL ? MICROSECOND FROM users WHERE id = ?`;
      await execute<ResultSetHeader>(conn, sql, [tokenHash, address, micros(ttlMs), userId]);
    },

    /** Spends a verification link: of parallel uses one verifies; a used, replaced, expired or unknown link changes nothing. */
    verify(tokenHash: Buffer): Promise<Verified> {
      return inTransaction(db, async (conn) => {
        const find = `SELECT t.user_pk, t.email, u.id FROM account_tokens t JOIN users u ON u.pk = t.user_pk
          WHERE t.token_hash = ? AND t.purpose = 'verify-email' AND t.expires_at > NOW(3) FOR UPDATE`;
        const [[link]] = await execute<RowDataPacket[]>(conn, find, [tokenHash]);
        if (!link) return { invalid: true };
        await execute<ResultSetHeader>(conn, 'DELETE FROM account_tokens WHERE token_hash = ?', [tokenHash]);
        const address = link.email as string;
        try {
          await execute<ResultSetHeader>(conn, 'UPDATE users SET email = ?, email_pending = NULL WHERE pk = ?', [address, link.user_pk as number]);
        } catch (err) {
          // Another account verified it since the link went out: the unique index decides.
          if ((err as { errno?: number }).errno === ER_DUP_ENTRY) return { taken: true };
          throw err;
        }
        return { verified: { userId: link.id as string, address } };
      });
    },

    /** The account's verified address (null: none), its row locked until the caller's transaction ends; undefined when the account is gone. */
    async lock(conn: Sql, userId: string): Promise<{ verified: string | null } | undefined> {
      const [[row]] = await execute<RowDataPacket[]>(conn, 'SELECT email FROM users WHERE id = ? FOR UPDATE', [userId]);
      return row && { verified: row.email as string | null };
    },

    /** Removes the account's addresses, verified and waiting, and their links. */
    async remove(conn: Sql, userId: string): Promise<void> {
      await execute<ResultSetHeader>(conn, 'UPDATE users SET email = NULL, email_pending = NULL WHERE id = ?', [userId]);
      await execute<ResultSetHeader>(conn, "DELETE t FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ? AND t.purpose = 'verify-email'", [
        userId,
      ]);
    },
  };
}
