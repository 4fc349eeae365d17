import { ErrorReply } from 'redis';
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

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR']);

/** Runs a MySQL call; connection-level failures become StoreUnavailableError, SQL errors pass through. */
export async function mysqlCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const { fatal, code } = err as { fatal?: boolean; code?: string };
    throw fatal || NETWORK_CODES.has(code ?? '') ? new StoreUnavailableError('mysql', err) : err;
  }
}

/** Rejects when `promise` has not settled within `ms`; the late result, if any, is dropped. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs a Redis call; any failure means Redis is unavailable. Error replies are outages too: OOM (full under
 * noeviction), READONLY (a replica after failover), LOADING (reading its AOF), BUSY, MASTERDOWN, CLUSTERDOWN.
 * node-redis's own command timeout stops counting once a command is written, so a server that accepts and
 * never answers would hang the request: the call is bounded here instead.
 */
export async function redisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(call(), STORE_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    const reason = err instanceof ErrorReply ? /^[A-Z]+/.exec(err.message)?.[0] ?? 'ERR' : undefined;
    throw new StoreUnavailableError('redis', err, reason);
  }
}
