import { ErrorReply, MultiErrorReply } from 'redis';
import { STORE_TIMEOUT_MS } from '../config/clients.js';

/**
 * A store did not do what was asked (down, unreachable, timed out, or refusing: OOM, READONLY, LOADING).
 * Callers answer 503 and change nothing. `reason` names it for the log: an error reply's code or `unreachable`.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly store: 'mysql' | 'redis',
    cause: unknown,
    readonly reason = 'unreachable',
  ) {
    super(`${store} is unavailable`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

// Connection failures, and a server that is full, shutting down or read-only (after a failover).
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_READ_ONLY_MODE',
]);
// Error replies of a Redis that is there but cannot serve now; any other reply (WRONGTYPE, a script error) is a bug.
const REDIS_OUTAGE_REPLIES = new Set(['OOM', 'READONLY', 'LOADING', 'BUSY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'NOREPLICAS', 'MISCONF', 'EXECABORT']);

/**
 * Runs one MySQL call on a connection (a statement, BEGIN, COMMIT), bounded as a whole: mysql2 times a statement's
 * execution only, not the wait for a connection nor its prepare (statements go through models/transaction.ts
 * `execute`, which takes its own connection). Connection-level failures and the bound become
 * StoreUnavailableError; SQL errors pass through.
 */
export function mysqlCall<T>(call: () => Promise<T>): Promise<T> {
  return mysqlWork(() => withTimeout(call(), STORE_TIMEOUT_MS));
}

/** Runs work of several MySQL calls (each bounded on its own), its errors as mysqlCall has them; unbounded itself. */
export async function mysqlWork<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const { fatal, code } = err as { fatal?: boolean; code?: string };
    throw fatal || NETWORK_CODES.has(code ?? '') ? new StoreUnavailableError('mysql', err) : err;
  }
}

/** Rejects (code ETIMEDOUT) when `promise` has not settled within `ms`; the late result, if any, is dropped. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs a Redis call; a connection failure, a timeout or an outage reply (OOM when full under noeviction,
 * READONLY after a failover, LOADING while it reads its AOF, ...) means Redis is unavailable. node-redis's own
 * command timeout stops counting once a command is written, so a server that accepts and never answers would
 * hang the request: the call is bounded here instead.
 */
export async function redisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(call(), STORE_TIMEOUT_MS);
  } catch (err) {
    if (!(err instanceof ErrorReply)) throw new StoreUnavailableError('redis', err);
    // A transaction's failure names its first failed command's reply.
    const reply: Error = err instanceof MultiErrorReply ? err.replies[err.errorIndexes[0]] : err;
    const code = /^[A-Z]+/.exec(reply.message)?.[0] ?? '';
    throw REDIS_OUTAGE_REPLIES.has(code) ? new StoreUnavailableError('redis', err, code) : err;
  }
}
