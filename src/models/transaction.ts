import type { PoolConnection } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { mysqlCall } from './storeErrors.js';

/** Milliseconds as an SQL interval takes them (`NOW(3) + INTERVAL ? MICROSECOND`): times are the database's own. */
export const micros = (ms: number): number => Math.round(ms * 1000);

/** Where a statement runs: the pool (a statement of its own) or a transaction's connection. */
export type Sql = Db | PoolConnection;

/**
 * Runs `work` in one transaction: all of it happens, or none. READ COMMITTED takes no gap locks, which would make
 * parallel changes of other accounts' rows deadlock; each account's are serialised by its rows' locks.
 */
export function inTransaction<T>(db: Db, work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return mysqlCall(async () => {
    const conn = await db.getConnection();
    try {
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  });
}
