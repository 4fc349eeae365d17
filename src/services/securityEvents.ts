import type { Logger } from 'pino';
import type { AccountAsChecked, NewSecurityEvent, SecurityEventModel } from '../models/securityEvents.js';
import { StoreUnavailableError } from '../models/storeErrors.js';
import type { Alerts } from './alerts.js';
import type { MailContext } from './email.service.js';

export const EVENTS_PER_PAGE = 50;
// The daily clean-up, one instance at a time (a MySQL named lock), in batches that hold no lock for long.
const RETENTION_EVERY_MS = 86_400_000;
const RETENTION_LOCK = 'login_page_activity_retention';
const RETENTION_BATCH = 5_000;

export type SecurityEvents = ReturnType<typeof createSecurityEvents>;

/**
 * The one record of what happened to accounts (every area records through `record`, which authEvent calls): one
 * INSERT an event, after the answer's work and never in its way. A failure is logged and counted (`lost`), never
 * silent, and fails nothing else. (A login's row follows its session's announcement, which names the session:
 * services/securitySummaries.ts keeps no summary read before that row.)
 */
export function createSecurityEvents({
  model,
  retentionMs,
  logger,
  alerts,
}: {
  model: SecurityEventModel;
  retentionMs: number;
  logger: Logger;
  /** Mails the person of the events they are told of. */
  alerts?: Alerts;
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
    /**
     * Records the event; with the request's language and origin, an alert goes too when it is one of theirs. With
     * `asChecked`, only while the account is as a login checked it. Resolves with whether it was written (undefined:
     * it failed, logged and counted). Rejects only a check's store outage: that login answers 503 and nothing is lost.
     */
    record(event: NewSecurityEvent, context?: MailContext, asChecked?: AccountAsChecked): Promise<boolean | undefined> {
      return model.insert(event, asChecked).then(
        (written) => {
          if (!written) return false;
          if (alerts && context) {
            alerts
              .send(event, context)
              .catch((err: Error) => logger.error({ err: { message: err.message }, kind: event.kind }, 'a security alert could not be written'));
          }
          return true;
        },
        (err: Error) => {
          if (asChecked && err instanceof StoreUnavailableError) throw err;
          lost++;
          logger.error({ err: { message: err.message }, kind: event.kind, lost }, 'a security event could not be recorded');
          return undefined;
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

    lastLoginsOf: (userIds: string[]) => model.lastLoginsOf(userIds),

    prune,

    /** Prunes now and once a day; the timer does not hold the process open. */
    keepPruned(): void {
      const run = () => void prune().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'could not delete old security events'));
      setTimeout(run, 60_000).unref();
      setInterval(run, RETENTION_EVERY_MS).unref();
    },
  };
}
