import { randomBytes } from 'node:crypto';
import { createDb, createRedis, createSubscriber, type Db, type RedisClient, type Subscriber } from '../../src/config/clients.js';
import { createLogger } from '../../src/config/logger.js';
import { migrate } from '../../src/models/migrate.js';
import { connectAdmin } from '../../scripts/lib/adminDb.js';
import type { MysqlTarget } from '../../scripts/lib/mysqlUrl.js';
import { dropProvisioned, provisionDatabase } from '../../scripts/lib/provision.js';

/** This run's own names: a database, an account and a Redis key prefix nobody else uses. */
export const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
export const redisKeyPrefix = `lpt:${runId}:`;

const MYSQL_HOST = process.env.TEST_MYSQL_HOST ?? '127.0.0.1';
const MYSQL_PORT = Number(process.env.TEST_MYSQL_PORT ?? 3306);
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export interface TestStores {
  target: MysqlTarget;
  databaseUrl: string;
  db: Db;
  redis: RedisClient;
}

let opened: Promise<TestStores> | undefined;

/** The real MariaDB and Redis, opened once per run, with the app's least-privilege grants. */
export function testStores(): Promise<TestStores> {
  opened ??= open();
  return opened;
}

async function open(): Promise<TestStores> {
  const target: MysqlTarget = {
    host: MYSQL_HOST,
    port: MYSQL_PORT,
    user: `lpt_${runId}`.slice(0, 32),
    password: randomBytes(12).toString('hex'),
    database: `login_page_test_${runId}`,
  };
  const admin = await connectAdmin(target.host, target.port);
  try {
    await provisionDatabase(admin, target);
  } finally {
    await admin.end();
  }
  const databaseUrl = `mysql://${target.user}:${target.password}@${target.host}:${target.port}/${target.database}`;
  const db = createDb(databaseUrl);
  await migrate(db);
  const redis = createRedis(REDIS_URL, createLogger('silent'));
  await redis.connect();
  return { target, databaseUrl, db, redis };
}

const subscribers: Subscriber[] = [];

/**
 * A listening connection of a test site's own (a site that replaces its connection must not disturb the others),
 * closed at the end of the run.
 */
export function testSubscriber(url = REDIS_URL): Subscriber {
  const subscriber = createSubscriber(url, createLogger('silent'));
  subscribers.push(subscriber);
  return subscriber;
}

/** Drops the database and account and deletes this run's Redis keys. */
export async function closeTestStores(): Promise<void> {
  if (!opened) return;
  await Promise.all(subscribers.map((subscriber) => subscriber.close()));
  const { target, db, redis } = await opened;
  await db.end();
  for await (const keys of redis.scanIterator({ MATCH: `${redisKeyPrefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await redis.del(keys);
  }
  await redis.close();
  const admin = await connectAdmin(target.host, target.port);
  await dropProvisioned(admin, target);
  await admin.end();
}
