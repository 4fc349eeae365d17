import type { Logger } from 'pino';
import type { AccountChanges } from '../models/accountChanges.js';
import type { NewSecurityEvent, SecurityEventModel } from '../models/securityEvents.js';

export const EVENTS_PER_PAGE = 50;
// The daily clean-up, one instance at a time (a MySQL named lock), in batches that hold no lock for long.
const RETENTION_EVERY_MS = 86_400_000;
const RETENTION_LOCK = 'login_page_activity_retention';
const RETENTION_BATCH = 5_000;
const LOGINS = new Set(['login', 'login_new_device']);

export type SecurityEvents = ReturnType<typeof createSecurityEvents>;

/**
 * The one record of what happened to accounts (every area records through `record`, which authEvent calls): one
 * INSERT an event, after the answer's work and never in its way. A failure is logged and counted (`lost`), never
 * silent, and fails nothing else. A login recorded makes the account's summary read again (its last login).
 */
export function createSecurityEvents({
  model,
  accountChanges,
  retentionMs,
  logger,
}: {
  model: SecurityEventModel;
  accountChanges: AccountChanges;
  retentionMs: number;
  logger: Logger;
}) {
  let lost = 0;
  const since = () => new Date(Date.now() - retentionMs);

  /** Deletes what is older than ACTIVITY_RETENTION, unless another instance is at it; how many went (or undefined). */
  async function prune(): Promise<number | undefined> {
    let deleted = 0;
    const ran = await model.whileLocked(RETENTION_LOCK, async () => {
      let batch: number;
      do {
        batch = await model.deleteOlderThan(since(), RETENTION_BATCH);
        deleted += batch;
      } while (batch === RETENTION_BATCH);
    });
    return ran ? deleted : undefined;
  }

  return {
    record(event: NewSecurityEvent): void {
      model.insert(event).then(
        async (written) => {
          if (written && LOGINS.has(event.kind)) await accountChanges.announce(event.userId);
        },
        (err: Error) => {
          lost++;
          logger.error({ err: { message: err.message }, kind: event.kind, lost }, 'a security event could not be recorded');
        },
      );
    },

    /** Events that could not be written since the process started (logged each time). */
    get lost(): number {
      return lost;
    },

    /** One page of the account's activity within ACTIVITY_RETENTION, newest first. */
    ofAccount: (userId: string, page: number) => model.ofAccount(userId, { since: since(), page, pageSize: EVENTS_PER_PAGE }),

    /** One page of what administrators did, newest first. */
    audit: (page: number) => model.audit({ page, pageSize: EVENTS_PER_PAGE }),

    latestLogins: (userId: string, count: number) => model.latestLogins(userId, count),

    prune,

    /** Prunes now and once a day; the timer does not hold the process open. */
    keepPruned(): void {
      const run = () => void prune().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not delete old security events'));
      setTimeout(run, 60_000).unref();
      setInterval(run, RETENTION_EVERY_MS).unref();
    },
  };
}
