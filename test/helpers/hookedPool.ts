import type { Db } from '../../src/config/clients.js';

/** Runs one call of a connection's method (`run`), given its SQL and values: as it is, later, or with something done around it. */
export type Around = (sql: string, values: unknown[], run: () => Promise<unknown>) => Promise<unknown>;

/**
 * The real pool, except that every call of `methods` (a statement, by default) on the connections it hands out
 * goes through `around`. The site runs each statement on a connection of its own (models/transaction.ts `execute`).
 */
export function hookedPool(db: Db, around: Around, methods: Array<'execute' | 'query' | 'beginTransaction'> = ['execute']): Db {
  const hooked = <T extends object>(conn: T): T =>
    new Proxy(conn, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (!methods.includes(prop as (typeof methods)[number])) return value.bind(target);
        return (query: string | { sql: string } = '', values: unknown[] = []) =>
          around(typeof query === 'string' ? query : query.sql, values, () => (value as (...args: unknown[]) => Promise<unknown>).call(target, query, values));
      },
    });
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'getConnection') return value.bind(target);
      return async () => hooked(await (value as () => Promise<object>).call(target));
    },
  });
}
