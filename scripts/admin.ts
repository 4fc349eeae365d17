// npm run admin -- grant ID | revoke ID: makes an account an administrator, or no longer one (ending its sessions).
import dotenv from 'dotenv';
import { createDb, createRedis } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/config/logger.js';
import { createRefreshSessions } from '../src/models/refreshSessions.js';
import { createUserModel } from '../src/models/user.js';
import { createEndedSessions } from '../src/services/endedSessions.js';
import { adminCommand } from './lib/admin.js';

dotenv.config({ quiet: true });
const [action, id] = process.argv.slice(2);
if (!(action === 'grant' || action === 'revoke') || !id) {
  console.error('usage: npm run admin -- grant ID   |   npm run admin -- revoke ID');
  process.exit(2);
}

const config = loadConfig();
const logger = createLogger('silent');
const db = createDb(config.databaseUrl);
const redis = createRedis(config.redisUrl, logger);
try {
  await redis.connect();
  const { log } = createEndedSessions({ redis, keyPrefix: config.redisKeyPrefix, accessTtlMs: config.accessTtlMs, logger });
  const sessions = createRefreshSessions(redis, {
    keyPrefix: config.redisKeyPrefix,
    idleMs: config.sessionIdleMs,
    reuseGraceMs: config.refreshReuseGraceMs,
    maxPerUser: config.maxSessionsPerUser,
    endedLog: log,
  });
  const { code, message } = await adminCommand({ users: createUserModel(db), sessions }, action, id);
  (code === 0 ? console.log : console.error)(message);
  process.exitCode = code;
} catch (err) {
  console.error(`admin failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await Promise.allSettled([db.end(), redis.close()]);
}
