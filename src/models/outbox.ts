import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Db } from '../config/clients.js';
import { execute, inTransaction, micros, type Sql } from './transaction.js';

/** A mail as the outbox keeps it: its payload sealed (it holds live links), its Message-ID and kind in the clear for the log. */
export interface OutboxMail {
  messageId: string;
  kind: string;
  payload: Buffer;
}

/** A mail due for an attempt, as the sender gets it. */
export interface DueMail extends OutboxMail {
  pk: number;
  /** Attempts made before this one. */
  attempts: number;
  ageMs: number;
}

/** What became of an attempt: sent; tried again after a while; or given up. */
export type Attempted = { sent: true } | { retryInMs: number } | { failed: true };

export type Outbox = ReturnType<typeof createOutbox>;

// A purge is a short statement: a large backlog goes over several rounds.
const PURGED_AT_ONCE = 100;

/** The outbox (table `mail_outbox`, migration 006-mail): written in the transaction that causes a mail, emptied by the sender. */
export function createOutbox(db: Db) {
  return {
    /**
     * Writes a mail in the caller's transaction. `carrying`: the hash of the link it carries; the mail is written
     * only when that link was (so a request that stored no link writes no mail, with the same statements).
     */
    async add(conn: Sql, mail: OutboxMail, carrying?: Buffer): Promise<void> {
      const values = [mail.messageId, mail.kind, mail.payload];
      const sql = carrying
        ? 'INSERT INTO mail_outbox (message_id, kind, payload) SELECT ?, ?, ? FROM account_tokens WHERE token_hash = ?'
        : 'INSERT INTO mail_outbox (message_id, kind, payload) VALUES (?, ?, ?)';
      await execute<ResultSetHeader>(conn, sql, carrying ? [...values, carrying] : values);
    },

    /**
     * Takes the next due mail that no other sender holds (`FOR UPDATE SKIP LOCKED`: one at a time per row across
     * instances), runs `attempt` on it while the row stays locked, and records the outcome; the payload goes once
     * the mail is sent or given up. False when no mail is due.
     */
    takeNext(attempt: (mail: DueMail) => Promise<Attempted>): Promise<boolean> {
      return inTransaction(db, async (conn) => {
        const due = `SELECT pk, message_id, kind, payload, attempts, TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) AS age_us FROM mail_outbox
          WHERE state = 'pending' AND next_attempt_at <= NOW(3) ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED`;
        const [[row]] = await execute<RowDataPacket[]>(conn, due, []);
        if (!row) return false;
        const mail = {
          pk: Number(row.pk),
          messageId: String(row.message_id),
          kind: String(row.kind),
          payload: row.payload as Buffer,
          attempts: Number(row.attempts),
          ageMs: Number(row.age_us) / 1000,
        };
        const outcome = await attempt(mail);
        const [sql, values] =
          'retryInMs' in outcome
            ? [
                'UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND WHERE pk = ?',
                [micros(outcome.retryInMs), mail.pk],
              ]
            : [
                'UPDATE mail_outbox SET attempts = attempts + 1, state = ?, payload = NULL, done_at = NOW(3) WHERE pk = ?',
                ['sent' in outcome ? 'sent' : 'failed', mail.pk],
              ];
        await execute<ResultSetHeader>(conn, sql, values);
        return true;
      });
    },

    /** Deletes some mails sent or given up more than `ageMs` ago (they hold no payload; they only tell that they went). */
    async purgeDone(ageMs: number): Promise<void> {
      const sql = `DELETE FROM mail_outbox WHERE state <> 'pending' AND done_at <= NOW(3) - INTERVAL ? MICROSECOND LIMIT ${PURGED_AT_ONCE}`;
      await execute<ResultSetHeader>(db, sql, [micros(ageMs)]);
    },
  };
}
