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
  | 'evalSha'
  | 'eval'
  | 'set'
  | 'getDel'
  | 'zRange'
  | 'exists'
  | 'hGetAll'
  | 'hmGet'
  | 'hDel'
  | 'zRangeByScoreWithScores'
  | 'ping'
  | 'publish'
  | 'isOpen'
  | 'close'
>;
/**
 * The listening connection for ended sessions. It can be replaced at once (`reconnect`): a connection whose flow a
 * middlebox lost stays open and says nothing, and node-redis's keepalive would notice only after minutes.
 */
export interface Subscriber {
  /** Listens on `channel` on this connection and every later one (in the order subscribed); resolves once Redis confirmed it. */
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** After every later (re)connect; a message heard after it shows the channels subscribed again. */
  on(event: 'ready', listener: () => void): unknown;
  /** Drops the connection without a word (a black-holed socket would never answer QUIT) and makes a new one. */
  reconnect(): void;
  /** False once closed. */
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

/** One connection of a Subscriber: a client, or a cluster's pub/sub connection. */
interface Listening {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'ready', listener: () => void): unknown;
  destroy(): void;
}

/** A Subscriber over the connections `open` makes: a new one at every `reconnect`, subscribed to the same channels. */
function replaceable(open: () => Listening, logger: Logger): Subscriber {
  const channels = new Map<string, (message: string) => void>();
  const readyListeners: (() => void)[] = [];
  const ready = () => readyListeners.forEach((listener) => listener());
  // A connection's own readies are passed on once it has subscribed: node-redis subscribes again before a later one.
  const connect = () => {
    const connection = open();
    const state = { connection, subscribed: false };
    connection.on('ready', () => state.subscribed && ready());
    return state;
  };
  let current = connect();
  let closed = false;
  return {
    on: (_event, listener) => readyListeners.push(listener),
    async subscribe(channel, listener) {
      channels.set(channel, listener);
      const subscribing = current;
      await subscribing.connection.subscribe(channel, listener);
      subscribing.subscribed = true;
    },
    reconnect() {
      current.connection.destroy();
      const next = (current = connect());
      Promise.all([...channels].map(([channel, listener]) => next.connection.subscribe(channel, listener))).then(
        () => {
          next.subscribed = true;
          if (current === next) ready();
        },
        // A connection replaced meanwhile fails its subscriptions; a current one that fails is silent, and replaced in turn.
        (err: Error) => current === next && logger.warn({ err: { message: err.message } }, 'could not subscribe to ended sessions'),
      );
    },
    get isOpen() {
      return !closed;
    },
    // Nothing waits for an answer on a listening connection: it goes at once (close() would wait on a black hole).
    close() {
      closed = true;
      current.connection.destroy();
      return Promise.resolve();
    },
  };
}

/** The listening connection on a single Redis; the SUBSCRIBE waits in the offline queue until Redis answers. */
export function createSubscriber(redisUrl: string, logger: Logger): Subscriber {
  return replaceable(() => {
    const client = createRedis(redisUrl, logger, { subscriber: true });
    // The reconnect strategy never gives up (failures are 'error' events, logged): this rejects only once destroyed.
    client.connect().catch(() => undefined);
    return client;
  }, logger);
}

const CLUSTER_CONNECT_RETRY_MS = 1000;

/**
 * Ended sessions on a Redis Cluster, heard on the cluster's own pub/sub connection (a PUBLISH reaches every
 * node): node-redis puts it on any node and moves it when that node leaves the topology (a failover), so no
 * one seed has to stay up. `ready` follows every node connection that is ready again, the pub/sub one among them;
 * a reconnect drops the whole cluster client (discovery and pub/sub connection) and discovers anew from a random seed.
 */
export function createClusterSubscriber(seeds: string[], logger: Logger): Subscriber {
  return replaceable(() => {
    const cluster = createRedisCluster(seeds, logger, { subscriber: true });
    let destroyed = false;
    // The cluster's first discovery does not retry by itself; the site may start before the cluster answers.
    const connected = (async () => {
      while (!destroyed) {
        try {
          await cluster.connect();
          return;
        } catch (err) {
          if (!destroyed) logger.error({ err: { message: (err as Error).message } }, 'redis cluster connect failed: trying again');
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
      destroy: () => {
        destroyed = true;
        cluster.destroy();
      },
    };
  }, logger);
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
  const subscriber = seeds ? createClusterSubscriber(seeds, logger) : createSubscriber(config.redisUrl, logger);
  return { db, redis, subscriber };
}

export async function closeStores({ db, redis, subscriber }: Stores): Promise<void> {
  await Promise.allSettled([db.end(), subscriber.close(), redis.isOpen ? redis.close() : Promise.resolve()]);
}
