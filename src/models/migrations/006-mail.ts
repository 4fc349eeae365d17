import type { Migration } from '../migrate.js';

// The email address: `email` is the verified one (normalised to lower case, unique among verified addresses only:
// NULLs do not collide), `email_pending` one that waits for its link. Links (email verification, password reset)
// are stored as SHA-256 of their token only; a reset link is bound to a fingerprint of the password hash it was
// issued under, so any password change voids it. The outbox keeps each mail (sealed: its links are live) until it
// is sent; `mail_allowances` counts mails per subject (an account, or what someone typed) and hour.
export const mail: Migration = {
  name: '006-mail',
  async up({ context: db }) {
    await db.query(`
      ALTER TABLE users
        ADD COLUMN email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL,
        ADD COLUMN email_pending VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL,
        ADD UNIQUE KEY users_email_unique (email)`);
    await db.query(`
      CREATE TABLE account_tokens (
        token_hash BINARY(32) NOT NULL PRIMARY KEY,
        user_pk INT UNSIGNED NOT NULL,
        purpose ENUM('verify-email', 'reset-password') CHARACTER SET ascii NOT NULL,
        email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL,
        password_fingerprint BINARY(32) NULL DEFAULT NULL,
        expires_at TIMESTAMP(3) NOT NULL,
        claimed_until TIMESTAMP(3) NULL DEFAULT NULL,
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        KEY account_tokens_user (user_pk, purpose),
        CONSTRAINT account_tokens_user_fk FOREIGN KEY (user_pk) REFERENCES users (pk) ON DELETE CASCADE
      ) ENGINE=InnoDB`);
    await db.query(`
      CREATE TABLE mail_outbox (
        pk BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        message_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        kind VARCHAR(32) CHARACTER SET ascii NOT NULL,
        payload BLOB NULL DEFAULT NULL,
        state ENUM('pending', 'sent', 'failed') CHARACTER SET ascii NOT NULL DEFAULT 'pending',
        attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0,
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        next_attempt_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        done_at TIMESTAMP(3) NULL DEFAULT NULL,
        KEY mail_outbox_due (state, next_attempt_at)
      ) ENGINE=InnoDB`);
    await db.query(`
      CREATE TABLE mail_allowances (
        subject VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        window_start TIMESTAMP(3) NOT NULL,
        sent INT UNSIGNED NOT NULL,
        KEY mail_allowances_window (window_start)
      ) ENGINE=InnoDB`);
  },
  async down({ context: db }) {
    await db.query('DROP TABLE mail_allowances');
    await db.query('DROP TABLE mail_outbox');
    await db.query('DROP TABLE account_tokens');
    await db.query('ALTER TABLE users DROP INDEX users_email_unique, DROP COLUMN email, DROP COLUMN email_pending');
  },
};
