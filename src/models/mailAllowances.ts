import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { execute, micros, type Sql } from './transaction.js';

// Each spend clears this many windows that ended long ago: the table holds about one window's subjects.
const CLEARED_PER_SPEND = 10;

/**
 * How many mails of one kind a subject (an account, or what someone typed) was sent per window, counted in the
 * transaction that writes the mail (migration 006-mail): parallel requests queue on the subject's row, so a limit
 * holds exactly. Every spend writes a row, whether or not a mail follows.
 */
export const mailAllowances = {
  /** Counts one mail of `subject` in a window of `windowMs`; allowed while at most `max` were counted, else the wait until it ends. */
  async spend(conn: Sql, subject: string, max: number, windowMs: number): Promise<{ allowed: true } | { allowed: false; waitMs: number }> {
    const window = micros(windowMs);
    const cleared = `DELETE FROM mail_allowances WHERE window_start <= NOW(3) - INTERVAL ? MICROSECOND ORDER BY window_start LIMIT ${CLEARED_PER_SPEND}`;
    await execute<ResultSetHeader>(conn, cleared, [window]);
    // `sent` is assigned first, so both conditions read the window as it was.
    const count = `INSERT INTO mail_allowances (subject, window_start, sent) VALUES (?, NOW(3), 1) ON DUPLICATE KEY UPDATE
      sent = IF(window_start <= NOW(3) - INTERVAL ? MICROSECOND, 1, sent + 1),
      window_start = IF(window_start <= NOW(3) - INTERVAL ? MICROSECOND, NOW(3), window_start)`;
    await execute<ResultSetHeader>(conn, count, [subject, window, window]);
    const read = 'SELECT sent, TIMESTAMPDIFF(MICROSECOND, NOW(3), window_start + INTERVAL ? MICROSECOND) AS left_us FROM mail_allowances WHERE subject = ?';
    const [[row]] = await execute<RowDataPacket[]>(conn, read, [window, subject]);
    return Number(row.sent) <= max ? { allowed: true } : { allowed: false, waitMs: Math.max(1, Math.ceil(Number(row.left_us) / 1000)) };
  },
};
