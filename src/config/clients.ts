import mysql from 'mysql2/promise';
import { createClient } from 'redis';
import type { Logger } from 'pino';
import type { Config } from './index.js';

export type Db = mysql.Pool;
export type Redis = ReturnType<typeof createRedis>;

/** Commands fail after this long instead of hanging while a store is away. */
export const STORE_TIMEOUT_MS = 2000;

export function createDb(databaseUrl: string): Db {
  return mysql.createPool({
    uri: databaseUrl,
    connectionLimit: 10,
    connectTimeout: STORE_TIMEOUT_MS,
    charset: 'utf8mb4_unicode_ci',
    enableKeepAlive: true,
  });
}

/**
 * A Redis client that fails fast while disconnected and reconnects on its own. `subscriber`: the connection
 * that listens for ended sessions; its SUBSCRIBE waits in the offline queue until Redis answers.
 */
export function createRedis(redisUrl: string, logger: Logger, { subscriber = false } = {}) {
  const client = createClient({
    url: redisUrl,
    disableOfflineQueue: !subscriber,
    // Bounds only a command's wait to be written; redisCall (models/storeErrors.ts) bounds the answer.
    commandOptions: { timeout: STORE_TIMEOUT_MS },
    socket: { connectTimeout: STORE_TIMEOUT_MS, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
  });
  // Without a listener an 'error' event would crash the process; the client reconnects by itself.
  client.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  return client;
}

export interface Stores {
  db: Db;
  redis: Redis;
  subscriber: Redis;
}

/** Opens both stores. The site serves even while one is down, so connection failures only get logged. */
export function openStores(config: Config, logger: Logger): Stores {
  const db = createDb(config.databaseUrl);
  const [redis, subscriber] = [false, true].map((isSubscriber) => {
    const client = createRedis(config.redisUrl, logger, { subscriber: isSubscriber });
    client.connect().catch((err: Error) => logger.error({ err: { message: err.message } }, 'redis connect failed'));
    return client;
  });
  return { db, redis, subscriber };
}

export async function closeStores({ db, redis, subscriber }: Stores): Promise<void> {
  await Promise.allSettled([db.end(), ...[redis, subscriber].map((client) => (client.isOpen ? client.close() : Promise.resolve()))]);
}
