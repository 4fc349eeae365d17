import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { execute, inTransaction as runInTransaction } from './transaction.js';
import { changed } from './user.js';

/** An account's second factor as stored: the secret encrypted (utils/secondFactor.ts), never in plain text. */
export interface SecondFactorState {
  secret: Buffer | null;
  recoveryCodesLeft: number;
}

interface StateRow extends RowDataPacket {
  totp_secret: Buffer | null;
  codes_left: number;
}

export type SecondFactorModel = ReturnType<typeof createSecondFactorModel>;

/** The TOTP columns of `users` and the `recovery_codes` table (migrations 003-totp, 005-offered-secret-in-session); `removeAll` takes the passkeys too. */
export function createSecondFactorModel(db: Db) {
  const inTransaction = <T>(work: (conn: PoolConnection) => Promise<T>) => runInTransaction(db, work);

  /** The account's row is locked first: parallel resets then queue on it instead of deadlocking over its recovery codes. */
  async function dropTotp(conn: PoolConnection, userId: string): Promise<void> {
    const [[row]] = await execute<RowDataPacket[]>(conn, 'SELECT pk FROM users WHERE id = ? FOR UPDATE', [userId]);
    if (!row) return;
    await execute<ResultSetHeader>(conn, 'DELETE FROM recovery_codes WHERE user_pk = ?', [row.pk as number]);
    await execute<ResultSetHeader>(conn, 'UPDATE users SET totp_secret = NULL, totp_last_step = NULL WHERE pk = ?', [row.pk as number]);
  }

  async function insertCodes(conn: PoolConnection, userId: string, codeHashes: Buffer[]): Promise<void> {
    const [[{ pk }]] = await execute<RowDataPacket[]>(conn, 'SELECT pk FROM users WHERE id = ?', [userId]);
    const rows = codeHashes.map(() => '(?, ?)').join(', ');
    await execute<ResultSetHeader>(
      conn,
      `INSERT INTO recovery_codes (user_pk, code_hash) VALUES ${rows}`,
      codeHashes.flatMap((hash) => [pk as number, hash]),
    );
  }

  return {
    async read(userId: string): Promise<SecondFactorState | undefined> {
      const sql = `SELECT totp_secret,
        (SELECT COUNT(*) FROM recovery_codes rc WHERE rc.user_pk = users.pk AND rc.used_at IS NULL) AS codes_left
        FROM users WHERE id = ?`;
      const [rows] = await execute<StateRow[]>(db, sql, [userId]);
      const row = rows[0];
      return row && { secret: row.totp_secret, recoveryCodesLeft: Number(row.codes_left) };
    },

    /**
     * Turns TOTP on with the secret that was confirmed (`step` is the confirming code's: it cannot log in again) and
     * stores the recovery codes. False when TOTP is on already (of parallel enrolments, one wins).
     */
    enable(userId: string, sealed: Buffer, step: number, codeHashes: Buffer[]): Promise<boolean> {
      return inTransaction(async (conn) => {
        const on = 'UPDATE users SET totp_secret = ?, totp_last_step = ? WHERE id = ? AND totp_secret IS NULL';
        if (!changed(await execute<ResultSetHeader>(conn, on, [sealed, step, userId]))) return false;
        // No codes to delete first: turning TOTP off deletes them.
        await insertCodes(conn, userId, codeHashes);
        return true;
      });
    },

    /** New recovery codes in place of all the old ones, used or not; false when TOTP is off. */
    replaceRecoveryCodes(userId: string, codeHashes: Buffer[]): Promise<boolean> {
      return inTransaction(async (conn) => {
        const [locked] = await execute<RowDataPacket[]>(conn, 'SELECT pk FROM users WHERE id = ? AND totp_secret IS NOT NULL FOR UPDATE', [userId]);
        if (locked.length === 0) return false;
        await execute<ResultSetHeader>(conn, 'DELETE FROM recovery_codes WHERE user_pk = ?', [locked[0].pk as number]);
        await insertCodes(conn, userId, codeHashes);
        return true;
      });
    },

    /** Turns TOTP off: the secret, the last accepted step and every recovery code go. */
    async disable(userId: string): Promise<void> {
      await inTransaction((conn) => dropTotp(conn, userId));
    },

    /** Every second factor of the account goes at once: TOTP with its recovery codes, and its passkeys (an administrator's reset). */
    async removeAll(userId: string): Promise<void> {
      await inTransaction(async (conn) => {
        await dropTotp(conn, userId);
        await execute<ResultSetHeader>(conn, 'DELETE p FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ?', [userId]);
      });
    },

    /** Accepts a code of time step `step` only when it is later than the last accepted one: of parallel uses, one wins. */
    async acceptStep(userId: string, step: number): Promise<boolean> {
      const sql = 'UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < ?)';
      return changed(await execute<ResultSetHeader>(db, sql, [step, userId, step]));
    },

    /** Marks an unused recovery code used; false when it is not one of the account's unused codes (so each works once). */
    async useRecoveryCode(userId: string, codeHash: Buffer): Promise<boolean> {
      const sql = `UPDATE recovery_codes JOIN users ON users.pk = recovery_codes.user_pk SET recovery_codes.used_at = CURRENT_TIMESTAMP
        WHERE users.id = ? AND users.totp_secret IS NOT NULL AND recovery_codes.code_hash = ? AND recovery_codes.used_at IS NULL`;
      return changed(await execute<ResultSetHeader>(db, sql, [userId, codeHash]));
    },
  };
}
