import mysql from 'mysql2/promise';
import { createClient, createCluster } from 'redis';
import type { Logger } from 'pino';
import type { Config } from './index.js';

export type Db = mysql.Pool;
export type RedisClient = ReturnType<typeof createRedis>;
export type RedisCluster = ReturnType<typeof createRedisCluster>;
/** What the models need of Redis: a single client and a cluster both have it (a cluster routes each call by its first key). */
export type Redis = Pick<
  RedisCluster,
  'evalSha' | 'eval' | 'set' | 'getDel' | 'zRange' | 'exists' | 'hGetAll' | 'hmGet' | 'hDel' | 'zRangeByScoreWithScores' | 'ping' | 'isOpen' | 'close'
>;
/** The listening connection for ended sessions: `ready` after every (re)connect, then SUBSCRIBE. */
export interface Subscriber {
  on(event: 'ready', listener: () => void): unknown;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  readonly isOpen: boolean;
  close(): Promise<unknown>;
}

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
  const client = createClient({ url: redisUrl, ...clientOptions(subscriber) });
  return logErrors(client, logger);
}

/** A Redis Cluster from its `host:port` seeds, each node's connection behaving as createRedis's does. */
export function createRedisCluster(seeds: string[], logger: Logger, { subscriber = false } = {}) {
  const rootNodes = seeds.map((seed) => ({ url: `redis://${seed}` }));
  // A subscriber opens only the cluster's pub/sub connection, not one to every master.
  const cluster = createCluster({ rootNodes, defaults: clientOptions(subscriber), minimizeConnections: subscriber });
  return logErrors(cluster, logger);
}

const CLUSTER_CONNECT_RETRY_MS = 1000;

/**
 * Ended sessions on a Redis Cluster, heard on the cluster's own pub/sub connection (a PUBLISH reaches every
 * node): node-redis puts it on any node and moves it when that node leaves the topology (a failover), so no
 * one seed has to stay up. `ready` follows every node connection that is ready again, the pub/sub one among them.
 */
export function createClusterSubscriber(seeds: string[], logger: Logger): Subscriber {
  const cluster = createRedisCluster(seeds, logger, { subscriber: true });
  let closed = false;
  // The cluster's first discovery does not retry by itself; the site may start before the cluster answers.
  const connected = (async () => {
    while (!closed) {
      try {
        await cluster.connect();
        return;
      } catch (err) {
        logger.error({ err: { message: (err as Error).message } }, 'redis cluster connect failed: trying again');
        await new Promise((resolve) => setTimeout(resolve, CLUSTER_CONNECT_RETRY_MS).unref());
      }
    }
  })();
  return {
    on: (_event, listener) => cluster.on('node-ready', listener),
    subscribe: async (channel, listener) => {
      await connected;
      return cluster.subscribe(channel, listener);
    },
    get isOpen() {
      return cluster.isOpen;
    },
    close: async () => {
      closed = true;
      if (cluster.isOpen) await cluster.close();
    },
  };
}

const clientOptions = (subscriber: boolean) => ({
  disableOfflineQueue: !subscriber,
  // Bounds only a command's wait to be written; redisCall (models/storeErrors.ts) bounds the answer.
  commandOptions: { timeout: STORE_TIMEOUT_MS },
  socket: { connectTimeout: STORE_TIMEOUT_MS, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
});

// Without a listener an 'error' event would crash the process; the client reconnects by itself.
function logErrors<T extends { on(event: 'error', listener: (err: Error) => void): unknown }>(client: T, logger: Logger): T {
  client.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis connection error'));
  return client;
}

export interface Stores {
  db: Db;
  redis: Redis;
  subscriber: Subscriber;
}

/** Opens both stores. The site serves even while one is down, so connection failures only get logged. */
export function openStores(config: Config, logger: Logger): Stores {
  const db = createDb(config.databaseUrl);
  const connect = <T extends { connect(): Promise<unknown> }>(client: T): T => {
    client.connect().catch((err: Error) => logger.error({ err: { message: err.message } }, 'redis connect failed'));
    return client;
  };
  const seeds = config.redisClusterNodes;
  const redis = connect(seeds ? createRedisCluster(seeds, logger) : createRedis(config.redisUrl, logger));
  const subscriber = seeds ? createClusterSubscriber(seeds, logger) : connect(createRedis(config.redisUrl, logger, { subscriber: true }));
  return { db, redis, subscriber };
}

export async function closeStores({ db, redis, subscriber }: Stores): Promise<void> {
  await Promise.allSettled([db.end(), ...[redis, subscriber].map((client) => (client.isOpen ? client.close() : Promise.resolve()))]);
}
