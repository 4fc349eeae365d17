// npm run admin -- grant ID | revoke ID: makes an account an administrator, or no longer one (ending its sessions).
import dotenv from 'dotenv';
import { createDb, createRedis } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/config/logger.js';
import { createSecurityEventModel } from '../src/models/securityEvents.js';
import { createUserModel } from '../src/models/user.js';
import { createSessionStore } from '../src/services/sessionStore.js';
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
  const { sessions } = createSessionStore({ redis, config, logger });
  const { code, message } = await adminCommand({ users: createUserModel(db), sessions, events: createSecurityEventModel(db) }, action, id);
  (code === 0 ? console.log : console.error)(message);
  process.exitCode = code;
} catch (err) {
  console.error(`admin failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await Promise.allSettled([db.end(), redis.close()]);
}
