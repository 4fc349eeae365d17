import type { Logger } from 'pino';
import type { RefreshSessions } from '../models/refreshSessions.js';
import { withTimeout } from '../models/storeErrors.js';
import type { SecurityEvent } from '../models/securityEvents.js';
import type { UserModel } from '../models/user.js';
import type { SecurityEvents } from './securityEvents.js';

/** A person's security at a glance, as the info page shows it (each part a link to its page). */
export interface SecuritySummary {
  totp: boolean;
  passkeys: number;
  sessions: number;
  /** The latest two logins (`detail` holds each one's session id): the page shows the last one before its own. */
  latestLogins: SecurityEvent[];
}

// The info page is the hot path: a summary is kept per account, at most this long (its live-session count can
// also change by expiry, which nobody announces) and for at most this many accounts.
const KEPT_MS = 5 * 60_000;
const KEPT_ACCOUNTS = 10_000;
// A page waits at most this long for a summary it must read; later (a store slow or away) it shows the links alone.
const READ_BUDGET_MS = 300;
// A login is announced when its session starts and its activity row is written just after: a read without that
// row is not kept for this long (a login that failed there writes none).
const LOGIN_ROW_WAIT_MS = 10_000;

export type SecuritySummaries = ReturnType<typeof createSecuritySummaries>;

/**
 * Security summaries kept in memory, true because every change announces its account (models/accountChanges.ts) and
 * `heard` drops it here: only while the listener is live (`livePeriod`), and only what was read within the same
 * live period, since announcements made during a gap were missed.
 */
export function createSecuritySummaries({
  users,
  sessions,
  securityEvents,
  livePeriod,
  redisAnswers,
  logger,
}: {
  users: UserModel;
  sessions: RefreshSessions;
  securityEvents: Pick<SecurityEvents, 'latestLogins'>;
  livePeriod: () => number | undefined;
  /** Redis took the listener's latest heartbeats: while it does not, reading is not even tried. */
  redisAnswers: () => boolean;
  logger: Logger;
}) {
  const kept = new Map<string, { summary: SecuritySummary; period: number; at: number }>();
  // The reads under way, by account: one that an announcement overtook is not kept.
  const reading = new Map<string, object>();
  // Logins announced whose activity rows a read has not seen yet, by account: each session id, until when awaited.
  const loginsAhead = new Map<string, Map<string, number>>();
  /** Whether the summary shows every login announced of the account that is still awaited. */
  const showsAnnouncedLogins = (userId: string, summary: SecuritySummary) => {
    const ahead = loginsAhead.get(userId);
    if (!ahead) return true;
    for (const [sid, until] of ahead) if (Date.now() > until || summary.latestLogins.some((login) => login.detail === sid)) ahead.delete(sid);
    if (ahead.size === 0) loginsAhead.delete(userId);
    return ahead.size === 0;
  };

  async function read(userId: string, period: number | undefined): Promise<SecuritySummary> {
    const mark = {};
    reading.set(userId, mark);
    const [facts, [live], latestLogins] = await Promise.all([
      users.securityFacts(userId),
      sessions.countLive([userId]),
      securityEvents.latestLogins(userId, 2),
    ]);
    const summary = { totp: facts?.totp ?? false, passkeys: facts?.passkeys ?? 0, sessions: live, latestLogins };
    if (reading.get(userId) === mark) {
      reading.delete(userId);
      if (period !== undefined && period === livePeriod() && showsAnnouncedLogins(userId, summary)) {
        if (kept.size >= KEPT_ACCOUNTS) kept.delete(kept.keys().next().value!);
        kept.set(userId, { summary, period, at: Date.now() });
      }
    }
    return summary;
  }

  /** A read within the page's budget; undefined past it or when a store fails (the read may still fill the memory). */
  const readInTime = (userId: string, period: number | undefined) =>
    withTimeout(read(userId, period), READ_BUDGET_MS).catch((err: Error) => {
      logger.debug({ err: { message: err.message } }, 'no security summary in time: the page shows its links alone');
      return undefined;
    });

  return {
    /**
     * The account's summary: from memory when it is known to be current (no store touched), else read within a
     * short budget; undefined when it cannot be had now (the page must keep working while a store is away).
     */
    of(userId: string): SecuritySummary | undefined | Promise<SecuritySummary | undefined> {
      const period = livePeriod();
      const hit = kept.get(userId);
      if (hit && hit.period === period && Date.now() - hit.at < KEPT_MS) return hit.summary;
      return redisAnswers() ? readInTime(userId, period) : undefined;
    },

    /**
     * An account changed (announced as its id, or as `id sid` by a login's session): what is kept of it, or being
     * read, is no longer current.
     */
    heard(message: string): void {
      const [userId, loginSid] = message.split(' ');
      kept.delete(userId);
      reading.delete(userId);
      if (!loginSid) return;
      const ahead = loginsAhead.get(userId) ?? new Map<string, number>();
      if (!loginsAhead.has(userId) && loginsAhead.size >= KEPT_ACCOUNTS) loginsAhead.delete(loginsAhead.keys().next().value!);
      loginsAhead.set(userId, ahead.set(loginSid, Date.now() + LOGIN_ROW_WAIT_MS));
    },
  };
}
