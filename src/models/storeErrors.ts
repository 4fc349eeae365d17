import { ErrorReply } from 'redis';

/** A store did not answer (down, unreachable, timed out). Callers answer 503 and change nothing. */
export class StoreUnavailableError extends Error {
  constructor(readonly store: 'mysql' | 'redis', cause: unknown) {
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

/** Runs a Redis call; anything but an error reply from the server means Redis is unavailable. */
export async function redisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw err instanceof ErrorReply ? err : new StoreUnavailableError('redis', err);
  }
}
