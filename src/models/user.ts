import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { STORE_TIMEOUT_MS, type Db } from '../config/clients.js';
import { mysqlCall } from './storeErrors.js';

export interface User {
  id: string;
  name: string;
  passwordHash: string;
  isAdmin: boolean;
  locked: boolean;
  /** A login needs a TOTP code after the password. */
  hasTotp: boolean;
}

/** An account as the administrators' list shows it. */
export interface AccountSummary {
  id: string;
  name: string;
  createdAt: Date;
  isAdmin: boolean;
  locked: boolean;
}

interface UserRow extends RowDataPacket {
  id: string;
  name: string;
  password_hash: string;
  is_admin: number;
  locked_at: Date | null;
  created_at: Date;
  totp_on: number;
  passkeys: number;
}

export const ER_DUP_ENTRY = 1062;

// A query on a connection whose server went silent fails instead of hanging.
export const statement = (sql: string) => ({ sql, timeout: STORE_TIMEOUT_MS });

export type UserModel = ReturnType<typeof createUserModel>;

export function createUserModel(db: Db) {
  return {
    /** The id column's collation ignores case, so `Alice` finds `alice`. */
    async findById(id: string): Promise<User | undefined> {
      const sql = 'SELECT id, name, password_hash, is_admin, locked_at, totp_secret IS NOT NULL AS totp_on FROM users WHERE id = ?';
      const [rows] = await mysqlCall(() => db.execute<UserRow[]>(statement(sql), [id]));
      const row = rows[0];
      return (
        row && {
          id: row.id,
          name: row.name,
          passwordHash: row.password_hash,
          isAdmin: row.is_admin === 1,
          locked: row.locked_at !== null,
          hasTotp: row.totp_on === 1,
        }
      );
    },

    /** Returns false when the id is taken (in any case); the unique index decides, so races are safe. */
    async create(user: { id: string; name: string; passwordHash: string }): Promise<boolean> {
      try {
        const values = [user.id, user.name, user.passwordHash];
        await mysqlCall(() => db.execute<ResultSetHeader>(statement('INSERT INTO users (id, name, password_hash) VALUES (?, ?, ?)'), values));
        return true;
      } catch (err) {
        if ((err as { errno?: number }).errno === ER_DUP_ENTRY) return false;
        throw err;
      }
    },

    /** The same password, hashed with new parameters. */
    async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
      await mysqlCall(() => db.execute(statement('UPDATE users SET password_hash = ? WHERE id = ?'), [passwordHash, id]));
    },

    /** A new password (the sessions that end with it take the TOTP secrets offered to them along). */
    async changePassword(id: string, passwordHash: string): Promise<void> {
      await mysqlCall(() => db.execute(statement('UPDATE users SET password_hash = ? WHERE id = ?'), [passwordHash, id]));
    },

    /**
     * True while the account still exists, is not locked, and has the password hash and the TOTP state it had when it
     * was read (a password login under way when TOTP is turned on must not finish without a code).
     */
    async unchanged(account: User): Promise<boolean> {
      const sql = 'SELECT password_hash, locked_at, totp_secret IS NOT NULL AS totp_on FROM users WHERE id = ?';
      const [rows] = await mysqlCall(() => db.execute<UserRow[]>(statement(sql), [account.id]));
      const [row] = rows;
      return rows.length === 1 && row.locked_at === null && row.password_hash === account.passwordHash && (row.totp_on === 1) === account.hasTotp;
    },

    /** What the account's security summary shows of MySQL: whether TOTP is on, how many passkeys it has. */
    async securityFacts(id: string): Promise<{ totp: boolean; passkeys: number } | undefined> {
      const sql = `SELECT totp_secret IS NOT NULL AS totp_on, (SELECT COUNT(*) FROM passkeys p WHERE p.user_pk = users.pk) AS passkeys
        FROM users WHERE id = ?`;
      const [[row]] = await mysqlCall(() => db.execute<UserRow[]>(statement(sql), [id]));
      return row && { totp: row.totp_on === 1, passkeys: Number(row.passkeys) };
    },

    /** Makes the account an administrator or not; false for an unknown id. */
    async setAdmin(id: string, isAdmin: boolean): Promise<boolean> {
      return changed(await mysqlCall(() => db.execute<ResultSetHeader>(statement('UPDATE users SET is_admin = ? WHERE id = ?'), [isAdmin, id])));
    },

    /** Locks (the account cannot log in) or unlocks it; false for an unknown id. */
    async setLocked(id: string, locked: boolean): Promise<boolean> {
      const sql = locked
        ? 'UPDATE users SET locked_at = COALESCE(locked_at, CURRENT_TIMESTAMP) WHERE id = ?'
        : 'UPDATE users SET locked_at = NULL WHERE id = ?';
      return changed(await mysqlCall(() => db.execute<ResultSetHeader>(statement(sql), [id])));
    },

    /**
     * Deletes the account's row, and its own security activity with it (what administrators did to it stays in their
     * audit); its id may be registered again.
     */
    async remove(id: string): Promise<boolean> {
      const sql = `DELETE users, security_events FROM users
        LEFT JOIN security_events ON security_events.user_pk = users.pk AND security_events.actor_kind <> 'admin' WHERE users.id = ?`;
      return changed(await mysqlCall(() => db.execute<ResultSetHeader>(statement(sql), [id])));
    },

    /** One page of accounts whose id starts with `prefix`, in id order (a range of the id index, never a full scan). */
    async list({ prefix, page, pageSize }: { prefix: string; page: number; pageSize: number }): Promise<{ accounts: AccountSummary[]; hasMore: boolean }> {
      const pattern = `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
      const sql = `SELECT id, name, created_at, is_admin, locked_at FROM users WHERE id LIKE ? ORDER BY id LIMIT ${pageSize + 1} OFFSET ${(page - 1) * pageSize}`;
      const [rows] = await mysqlCall(() => db.execute<UserRow[]>(statement(sql), [pattern]));
      const accounts = rows
        .slice(0, pageSize)
        .map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at, isAdmin: row.is_admin === 1, locked: row.locked_at !== null }));
      return { accounts, hasMore: rows.length > pageSize };
    },
  };
}

/** An UPDATE or DELETE found its row: `affectedRows` counts matched rows (mysql2's default FOUND_ROWS flag). */
export const changed = ([result]: [ResultSetHeader, unknown]) => result.affectedRows > 0;
