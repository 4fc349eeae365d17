import type { ExecuteValues, FieldPacket, PoolConnection, QueryResult } from 'mysql2/promise';
import { STORE_TIMEOUT_MS, type Db } from '../config/clients.js';
import { mysqlCall, mysqlWork, StoreUnavailableError, withTimeout } from './storeErrors.js';

/** Milliseconds as an SQL interval takes them (`NOW(3) + INTERVAL ? MICROSECOND`): times are the database's own. */
export const micros = (ms: number): number => Math.round(ms * 1000);

/** Where a statement runs: the pool (a statement of its own) or a transaction's connection. */
export type Sql = Db | PoolConnection;

/**
 * Runs one prepared statement within STORE_TIMEOUT_MS as a whole (mysql2 times only its execution: not the wait
 * for a connection, nor the prepare). On the pool it takes a connection of its own, so that one cut off is closed
 * and never sends its statement late; in a transaction, withConnection closes it.
 */
export function execute<T extends QueryResult>(sql: Sql, text: string, values: ExecuteValues[]): Promise<[T, FieldPacket[]]> {
  const run = (conn: Sql) => mysqlCall(() => conn.execute<T>({ sql: text, timeout: STORE_TIMEOUT_MS }, values));
  return 'getConnection' in sql ? withConnection(sql, run) : run(sql);
}

/** A connection of the pool's, within STORE_TIMEOUT_MS (a full pool or a server that hangs is an outage). */
async function connectionOf(db: Db): Promise<PoolConnection> {
  const pending = db.getConnection();
  return withTimeout(pending, STORE_TIMEOUT_MS).catch((err: unknown) => {
    pending.then(
      (conn) => conn.release(),
      () => undefined,
    ); // a late one goes back to the pool
    throw err;
  });
}

/**
 * Lends `use` a connection of its own. One that failed as a store may still be waiting for an answer: it is closed,
 * not handed back to the pool (MySQL then rolls back what it held).
 */
export function withConnection<T>(db: Db, use: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return mysqlWork(async () => {
    const conn = await connectionOf(db);
    try {
      const result = await use(conn);
      conn.release();
      return result;
    } catch (err) {
      if (err instanceof StoreUnavailableError && err.store === 'mysql') conn.destroy();
      else conn.release();
      throw err;
    }
  });
}

/**
 * Runs `work` in one transaction: all of it happens, or none. READ COMMITTED takes no gap locks, which would make
 * parallel changes of other accounts' rows deadlock; each account's are serialised by its rows' locks.
 */
export function inTransaction<T>(db: Db, work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return withConnection(db, async (conn) => {
    await mysqlCall(() => conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED'));
    await mysqlCall(() => conn.beginTransaction());
    try {
      const result = await work(conn);
      await mysqlCall(() => conn.commit());
      return result;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) await mysqlCall(() => conn.rollback());
      throw err;
    }
  });
}
