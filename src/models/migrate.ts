import type { RowDataPacket } from 'mysql2/promise';
import { Umzug, type UmzugStorage, type MigrationParams } from 'umzug';
import type { Logger } from 'pino';
import type { Db } from '../config/clients.js';
import { migrations } from './migrations/index.js';

export interface Migration {
  name: string;
  up(params: MigrationParams<Db>): Promise<void>;
  down(params: MigrationParams<Db>): Promise<void>;
}

const LOCK_NAME = 'login_page_migrations';
const LOCK_WAIT_SECONDS = 30;

/** Umzug's record of applied migrations, in a table of the same database. */
function mysqlStorage(db: Db): UmzugStorage<Db> {
  const ensureTable = () =>
    db.query('CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(255) PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)');
  return {
    async executed() {
      await ensureTable();
      const [rows] = await db.query<RowDataPacket[]>('SELECT name FROM schema_migrations ORDER BY name');
      return rows.map((row) => String(row.name));
    },
    async logMigration({ name }) {
      await db.execute('INSERT INTO schema_migrations (name) VALUES (?)', [name]);
    },
    async unlogMigration({ name }) {
      await db.execute('DELETE FROM schema_migrations WHERE name = ?', [name]);
    },
  };
}

/** Applies pending migrations; a named lock keeps two starting processes from racing. */
export async function migrate(db: Db): Promise<string[]> {
  const conn = await db.getConnection();
  try {
    const [[lock]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [LOCK_NAME, LOCK_WAIT_SECONDS]);
    if (lock?.got !== 1) throw new Error('could not take the migration lock');
    const umzug = new Umzug({ migrations, context: db, storage: mysqlStorage(db), logger: undefined });
    const applied = await umzug.up();
    return applied.map((m) => m.name);
  } finally {
    await conn.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]).catch(() => undefined);
    conn.release();
  }
}

/** At start-up MySQL may not answer yet: keep trying in the background until the schema is current. */
export async function migrateWhenReachable(db: Db, logger: Logger, signal: AbortSignal, retryMs = 2000): Promise<void> {
  while (!signal.aborted) {
    try {
      const applied = await migrate(db);
      logger.info({ applied }, 'database schema is current');
      return;
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'migrations pending: MySQL not ready');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
}
