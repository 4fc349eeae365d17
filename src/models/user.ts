import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';

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

export type UserModel = ReturnType<typeof createUserModel>;

export function createUserModel(db: Db) {
  return {
    /** The id column's collation ignores case, so `Alice` finds `alice`. */
    async findById(id: string): Promise<User | undefined> {
      const [rows] = await db.execute<UserRow[]>('SELECT id, name, password_hash, is_admin FROM users WHERE id = ?', [id]);
      const row = rows[0];
      return row && { id: row.id, name: row.name, passwordHash: row.password_hash, isAdmin: row.is_admin === 1 };
    },

    /** Returns false when the id is taken (in any case); the unique index decides, so races are safe. */
    async create(user: { id: string; name: string; passwordHash: string }): Promise<boolean> {
      try {
        await db.execute<ResultSetHeader>('INSERT INTO users (id, name, password_hash) VALUES (?, ?, ?)', [
          user.id,
          user.name,
          user.passwordHash,
        ]);
        return true;
      } catch (err) {
        if ((err as { errno?: number }).errno === ER_DUP_ENTRY) return false;
        throw err;
      }
    },

    async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
      await db.execute('UPDATE users SET password_hash = ? WHERE id = ?', [passwordHash, id]);
    },
  };
}
