import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { mysqlCall } from './storeErrors.js';
import { execute, withConnection } from './transaction.js';
import { changed, type User } from './user.js';

/** What happened to an account, as its activity page names it. */
export const ACTIVITY_KINDS = [
  'login',
  'login_new_device',
  'login_failed',
  'logout',
  'session_ended',
  'password_changed',
  'password_reset',
  'reset_requested',
  'email_added',
  'email_verified',
  'email_removed',
  'totp_on',
  'totp_off',
  'recovery_code_used',
  'recovery_codes_renewed',
  'passkey_added',
  'passkey_renamed',
  'passkey_removed',
  'locked',
  'unlocked',
  'admin_granted',
  'admin_revoked',
  'second_factor_reset',
  'reset_link_issued',
  'account_deleted',
] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** Who did it: the person, an administrator (by id, or the operating-system user of `npm run admin`), or the site. */
export type Actor = { kind: 'self' } | { kind: 'admin'; id: string } | { kind: 'system' };

export interface NewSecurityEvent {
  kind: ActivityKind;
  /** The account it is about (as typed: matched without regard to case; no row is written for an unknown id). */
  userId: string;
  actor: Actor;
  ip: string;
  userAgent: string;
  /** The browser and system without versions (utils/device.ts). */
  deviceKey: string;
  detail?: string | undefined;
}

export interface SecurityEvent {
  kind: ActivityKind;
  at: Date;
  ip: string;
  userAgent: string;
  actor: Actor;
  detail: string | null;
  accountId: string | null;
}

interface EventRow extends RowDataPacket {
  kind: ActivityKind;
  at: Date;
  ip: string;
  user_agent: string;
  actor_kind: Actor['kind'];
  actor_id: string | null;
  detail: string | null;
  account_id: string | null;
}

const actorOf = (row: EventRow): Actor => (row.actor_kind === 'admin' ? { kind: 'admin', id: row.actor_id ?? '' } : { kind: row.actor_kind });

const eventOf = (row: EventRow): SecurityEvent => ({
  kind: row.kind,
  at: row.at,
  ip: row.ip,
  userAgent: row.user_agent,
  actor: actorOf(row),
  detail: row.detail,
  accountId: row.account_id,
});

const LOGINS = "'login', 'login_new_device'";

const COLUMNS = 'kind, at, ip, user_agent, actor_kind, actor_id, detail, account_id';

export type SecurityEventModel = ReturnType<typeof createSecurityEventModel>;

/** An account as a login checked it: the event is written only while it still is so. */
export type AccountAsChecked = Pick<User, 'passwordHash' | 'hasTotp'>;

/** The `security_events` table (migration 007). */
export function createSecurityEventModel(db: Db) {
  return {
    /**
     * One INSERT, named by the account's id (matched without regard to case); false when no account has it, or, with
     * `asChecked`, when the account is no longer so (its password, unlocked, TOTP on or off). A deletion is recorded
     * after the account went: by the id alone, for the audit.
     */
    async insert(event: NewSecurityEvent, asChecked?: AccountAsChecked): Promise<boolean> {
      const { kind, userId, actor, ip, userAgent, deviceKey, detail } = event;
      const actorId = actor.kind === 'admin' ? actor.id.slice(0, 64) : null;
      const fields = [kind, ip.slice(0, 64), userAgent.slice(0, 256), deviceKey.slice(0, 96), actor.kind, actorId, detail?.slice(0, 255) ?? null];
      const columns = 'user_pk, account_id, kind, ip, user_agent, device_key, actor_kind, actor_id, detail';
      const fromAccount = `INSERT INTO security_events (${columns}) SELECT pk, id, ?, ?, ?, ?, ?, ?, ? FROM users WHERE id = ?`;
      const [sql, values] =
        kind === 'account_deleted'
          ? [`INSERT INTO security_events (${columns}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?)`, [userId, ...fields]]
          : asChecked
            ? [
                `${fromAccount} AND password_hash = ? AND locked_at IS NULL AND (totp_secret IS NOT NULL) = ?`,
                [...fields, userId, asChecked.passwordHash, asChecked.hasTotp],
              ]
            : [fromAccount, [...fields, userId]];
      return changed(await execute<ResultSetHeader>(db, sql, values));
    },

    /** One page of the account's events since `since`, newest first; `hasMore` when there is another. */
    async ofAccount(userId: string, { since, page, pageSize }: { since: Date; page: number; pageSize: number }) {
      const sql = `SELECT ${COLUMNS} FROM security_events
        WHERE user_pk = (SELECT pk FROM users WHERE id = ?) AND at >= ?
        ORDER BY at DESC, id DESC LIMIT ${pageSize + 1} OFFSET ${(page - 1) * pageSize}`;
      const [rows] = await execute<EventRow[]>(db, sql, [userId, since]);
      return { events: rows.slice(0, pageSize).map(eventOf), hasMore: rows.length > pageSize };
    },

    /** One page of what administrators did, newest first. */
    async audit({ page, pageSize }: { page: number; pageSize: number }) {
      const sql = `SELECT ${COLUMNS} FROM security_events WHERE actor_kind = 'admin'
        ORDER BY at DESC, id DESC LIMIT ${pageSize + 1} OFFSET ${(page - 1) * pageSize}`;
      const [rows] = await execute<EventRow[]>(db, sql, []);
      return { events: rows.slice(0, pageSize).map(eventOf), hasMore: rows.length > pageSize };
    },

    /** The account's latest logins (each with its session id in `detail`), newest first. */
    async latestLogins(userId: string, count: number): Promise<SecurityEvent[]> {
      const sql = `SELECT ${COLUMNS} FROM security_events WHERE user_pk = (SELECT pk FROM users WHERE id = ?) AND kind IN (${LOGINS})
        ORDER BY at DESC, id DESC LIMIT ${count}`;
      const [rows] = await execute<EventRow[]>(db, sql, [userId]);
      return rows.map(eventOf);
    },

    /** When each of these accounts last logged in (ids as registered; an account without a recorded login is absent). */
    async lastLoginsOf(userIds: string[]): Promise<Map<string, Date>> {
      if (userIds.length === 0) return new Map();
      const sql = `SELECT u.id, (SELECT MAX(e.at) FROM security_events e WHERE e.user_pk = u.pk AND e.kind IN (${LOGINS})) AS at
        FROM users u WHERE u.id IN (${userIds.map(() => '?').join(', ')})`;
      const [rows] = await execute<RowDataPacket[]>(db, sql, userIds);
      return new Map(rows.filter((row) => row.at).map((row) => [String(row.id).toLowerCase(), row.at as Date]));
    },

    /** Deletes up to `batch` events older than `before`; how many went. */
    async deleteOlderThan(before: Date, batch: number): Promise<number> {
      const sql = `DELETE FROM security_events WHERE at < ? ORDER BY at LIMIT ${batch}`;
      const [result] = await execute<ResultSetHeader>(db, sql, [before]);
      return result.affectedRows;
    },

    /** Runs `work` while holding a named MySQL lock (not waiting for it): one instance at a time; false when another holds it. */
    async whileLocked(name: string, work: () => Promise<void>): Promise<boolean> {
      return withConnection(db, async (conn) => {
        const [[lock]] = await mysqlCall(() => conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [name]));
        if (lock?.got !== 1) return false;
        try {
          await work();
        } finally {
          await mysqlCall(() => conn.query('SELECT RELEASE_LOCK(?)', [name]));
        }
        return true;
      });
    },
  };
}
