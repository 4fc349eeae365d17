import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { execute, type Sql } from './transaction.js';

export interface User {
  id: string;
  name: string;
  passwordHash: string;
  isAdmin: boolean;
  locked: boolean;
  /** A login needs a TOTP code after the password. */
  hasTotp: boolean;
  /** The address mail goes to: the verified one, else the one waiting for its link (null: none). */
  email: string | null;
  /** Whether `email` is verified (only a verified address gets mail, the verification mail aside). */
  emailVerified: boolean;
  /** An address waiting for its link while another one is verified and still in use (null: none). */
  pendingEmail: string | null;
}

/** An account as the administrators' list shows it. */
export interface AccountSummary {
  id: string;
  name: string;
  createdAt: Date;
  isAdmin: boolean;
  locked: boolean;
}

/** An account as its page for administrators shows it. */
export interface AccountDetails extends AccountSummary, Pick<User, 'email' | 'emailVerified' | 'pendingEmail' | 'hasTotp'> {
  passkeys: number;
}

interface UserRow extends RowDataPacket {
  id: string;
  name: string;
  password_hash: string;
  is_admin: number;
  locked_at: Date | null;
  created_at: Date;
  totp_on: number;
  email: string | null;
  email_pending: string | null;
  passkeys: number;
}

export const ER_DUP_ENTRY = 1062;

export type UserModel = ReturnType<typeof createUserModel>;

const ACCOUNT_COLUMNS = 'id, name, password_hash, is_admin, locked_at, totp_secret IS NOT NULL AS totp_on, email, email_pending';

const userOf = (row: UserRow): User => ({
  id: row.id,
  name: row.name,
  passwordHash: row.password_hash,
  isAdmin: row.is_admin === 1,
  locked: row.locked_at !== null,
  hasTotp: row.totp_on === 1,
  email: row.email ?? row.email_pending,
  emailVerified: row.email !== null,
  pendingEmail: row.email === null ? null : row.email_pending,
});

export function createUserModel(db: Db) {
  async function findOne(where: string, value: string): Promise<User | undefined> {
    const [rows] = await execute<UserRow[]>(db, `SELECT ${ACCOUNT_COLUMNS} FROM users WHERE ${where} = ?`, [value]);
    return rows[0] && userOf(rows[0]);
  }

  return {
    /** The id column's collation ignores case, so `Alice` finds `alice`. */
    findById: (id: string): Promise<User | undefined> => findOne('id', id),

    /** The account a forgotten-password form names: by its id, or by its verified address (normalised); one query either way. */
    findByLogin: (login: { id: string } | { email: string }): Promise<User | undefined> =>
      'id' in login ? findOne('id', login.id) : findOne('email', login.email),

    /** Returns false when the id is taken (in any case); the unique index decides, so races are safe. */
    async create(user: { id: string; name: string; passwordHash: string }, conn: Sql = db): Promise<boolean> {
      try {
        const values = [user.id, user.name, user.passwordHash];
        await execute<ResultSetHeader>(conn, 'INSERT INTO users (id, name, password_hash) VALUES (?, ?, ?)', values);
        return true;
      } catch (err) {
        if ((err as { errno?: number }).errno === ER_DUP_ENTRY) return false;
        throw err;
      }
    },

    /** The same password, hashed with new parameters, unless the password changed since `checkedHash` was read. */
    async rehashPassword(id: string, checkedHash: string, passwordHash: string): Promise<boolean> {
      const sql = 'UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?';
      return changed(await execute<ResultSetHeader>(db, sql, [passwordHash, id, checkedHash]));
    },

    /** A new password (the sessions that end with it take the TOTP secrets offered to them along). */
    async changePassword(id: string, passwordHash: string): Promise<void> {
      await execute(db, 'UPDATE users SET password_hash = ? WHERE id = ?', [passwordHash, id]);
    },

    /**
     * True while the account still exists, is not locked, and has the password hash and the TOTP state it had when it
     * was read (a password login under way when TOTP is turned on must not finish without a code).
     */
    async unchanged(account: User): Promise<boolean> {
      const sql = 'SELECT password_hash, locked_at, totp_secret IS NOT NULL AS totp_on FROM users WHERE id = ?';
      const [rows] = await execute<UserRow[]>(db, sql, [account.id]);
      const [row] = rows;
      return rows.length === 1 && row.locked_at === null && row.password_hash === account.passwordHash && (row.totp_on === 1) === account.hasTotp;
    },

    /** What the account's security summary shows of MySQL: whether TOTP is on, how many passkeys it has. */
    async securityFacts(id: string): Promise<{ totp: boolean; passkeys: number } | undefined> {
      const sql = `SELECT totp_secret IS NOT NULL AS totp_on, (SELECT COUNT(*) FROM passkeys p WHERE p.user_pk = users.pk) AS passkeys
        FROM users WHERE id = ?`;
      const [[row]] = await execute<UserRow[]>(db, sql, [id]);
      return row && { totp: row.totp_on === 1, passkeys: Number(row.passkeys) };
    },

    /** Makes the account an administrator or not; false for an unknown id. */
    async setAdmin(id: string, isAdmin: boolean): Promise<boolean> {
      return changed(await execute<ResultSetHeader>(db, 'UPDATE users SET is_admin = ? WHERE id = ?', [isAdmin, id]));
    },

    /** Locks (the account cannot log in) or unlocks it; false for an unknown id. */
    async setLocked(id: string, locked: boolean): Promise<boolean> {
      const sql = locked
        ? 'UPDATE users SET locked_at = COALESCE(locked_at, CURRENT_TIMESTAMP) WHERE id = ?'
        : 'UPDATE users SET locked_at = NULL WHERE id = ?';
      return changed(await execute<ResultSetHeader>(db, sql, [id]));
    },

    /**
     * Deletes the account's row, and its own security activity with it (what administrators did to it stays in their
     * audit); its id may be registered again.
     */
    async remove(id: string): Promise<boolean> {
      const sql = `DELETE users, security_events FROM users
        LEFT JOIN security_events ON security_events.user_pk = users.pk AND security_events.actor_kind <> 'admin' WHERE users.id = ?`;
      return changed(await execute<ResultSetHeader>(db, sql, [id]));
    },

    /** Everything an administrator's page of the account shows that MySQL holds. */
    async details(id: string): Promise<AccountDetails | undefined> {
      const sql = `SELECT ${ACCOUNT_COLUMNS}, created_at, (SELECT COUNT(*) FROM passkeys p WHERE p.user_pk = users.pk) AS passkeys FROM users WHERE id = ?`;
      const [rows] = await execute<UserRow[]>(db, sql, [id]);
      const row = rows[0];
      if (!row) return undefined;
      const { id: accountId, name, isAdmin, locked, hasTotp, email, emailVerified, pendingEmail } = userOf(row);
      return { id: accountId, name, createdAt: row.created_at, isAdmin, locked, hasTotp, email, emailVerified, pendingEmail, passkeys: Number(row.passkeys) };
    },

    /** One page of accounts whose id starts with `prefix`, in id order (a range of the id index, never a full scan). */
    async list({ prefix, page, pageSize }: { prefix: string; page: number; pageSize: number }): Promise<{ accounts: AccountSummary[]; hasMore: boolean }> {
      const pattern = `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
      const sql = `SELECT id, name, created_at, is_admin, locked_at FROM users WHERE id LIKE ? ORDER BY id LIMIT ${pageSize + 1} OFFSET ${(page - 1) * pageSize}`;
      const [rows] = await execute<UserRow[]>(db, sql, [pattern]);
      const accounts = rows
        .slice(0, pageSize)
        .map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at, isAdmin: row.is_admin === 1, locked: row.locked_at !== null }));
      return { accounts, hasMore: rows.length > pageSize };
    },
  };
}

/** An UPDATE or DELETE found its row: `affectedRows` counts matched rows (mysql2's default FOUND_ROWS flag). */
export const changed = ([result]: [ResultSetHeader, unknown]) => result.affectedRows > 0;
