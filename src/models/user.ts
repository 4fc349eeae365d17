import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { STORE_TIMEOUT_MS, type Db } from '../config/clients.js';
import { mysqlCall } from './storeErrors.js';

export interface User {
  id: string;
  name: string;
  passwordHash: string;
  isAdmin: boolean;
}

interface UserRow extends RowDataPacket {
  id: string;
  name: string;
  password_hash: string;
  is_admin: number;
}

const ER_DUP_ENTRY = 1062;

// A query on a connection whose server went silent fails instead of hanging.
const statement = (sql: string) => ({ sql, timeout: STORE_TIMEOUT_MS });

export type UserModel = ReturnType<typeof createUserModel>;

export function createUserModel(db: Db) {
  return {
    /** The id column's collation ignores case, so `Alice` finds `alice`. */
    async findById(id: string): Promise<User | undefined> {
      const [rows] = await mysqlCall(() => db.execute<UserRow[]>(statement('SELECT id, name, password_hash, is_admin FROM users WHERE id = ?'), [id]));
      const row = rows[0];
      return row && { id: row.id, name: row.name, passwordHash: row.password_hash, isAdmin: row.is_admin === 1 };
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

    async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
      await mysqlCall(() => db.execute(statement('UPDATE users SET password_hash = ? WHERE id = ?'), [passwordHash, id]));
    },
  };
}
