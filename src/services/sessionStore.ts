import type { Logger } from 'pino';
import type { Redis } from '../config/clients.js';
import type { Config } from '../config/index.js';
import { createAccountChanges } from '../models/accountChanges.js';
import { createRefreshSessions } from '../models/refreshSessions.js';
import { createEndedSessions } from './endedSessions.js';

/**
 * The refresh sessions as configured, the announcements of the ones that end, and of accounts whose sessions or
 * factors changed (the site and `npm run admin`).
 */
export function createSessionStore({ redis, config, logger }: { redis: Redis; config: Config; logger: Logger }) {
  const endedSessions = createEndedSessions({ redis, keyPrefix: config.redisKeyPrefix, accessTtlMs: config.accessTtlMs, logger });
  const accountChanges = createAccountChanges(redis, config.redisKeyPrefix, logger);
  const sessions = createRefreshSessions(redis, {
    keyPrefix: config.redisKeyPrefix,
    idleMs: config.sessionIdleMs,
    sharedIdleMs: config.sharedSessionIdleMs,
    reuseGraceMs: config.refreshReuseGraceMs,
    maxPerUser: config.maxSessionsPerUser,
    endedLog: endedSessions.log,
    accountChannel: accountChanges.channel,
  });
  return { endedSessions, sessions, accountChanges };
}
