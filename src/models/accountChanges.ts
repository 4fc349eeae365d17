import type { Logger } from 'pino';
import type { Redis } from '../config/clients.js';
import { redisCall } from './storeErrors.js';

export type AccountChanges = ReturnType<typeof createAccountChanges>;

/**
 * Where a change to what an account's security summary shows is announced (its id): every instance drops what it
 * kept of that account (services/securitySummaries.ts). The session scripts announce logins (as `id sid`: its activity
 * row follows) and ended sessions on it themselves (models/refreshSessions.ts); the areas announce factors changed in MySQL.
 */
export function createAccountChanges(redis: Redis, keyPrefix: string, logger: Logger) {
  const channel = `${keyPrefix}account-changed`;
  return {
    channel,

    /**
     * After a change has happened: a failure is logged, not thrown (the change stands; what instances kept of the
     * account expires by itself within a minute).
     */
    async announce(userId: string): Promise<void> {
      await redisCall(() => redis.publish(channel, userId)).catch((err: Error) =>
        logger.warn({ err: { message: err.message } }, 'could not announce an account change'),
      );
    },
  };
}
