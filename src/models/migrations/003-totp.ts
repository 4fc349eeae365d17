import type { Migration } from '../migrate.js';

// TOTP secrets are stored encrypted (AES-256-GCM: IV, tag and ciphertext in one value); the pending one is shown
// until the person confirms it with a code. `totp_last_step` is the last accepted time step (no replay).
// Recovery codes hang off the row's own key: deleting the account deletes them, and an id registered again
// starts with none.
export const totp: Migration = {
  name: '003-totp',
  async up({ context: db }) {
    await db.query(`
      ALTER TABLE users
        ADD COLUMN totp_secret VARBINARY(128) NULL DEFAULT NULL,
        ADD COLUMN totp_pending_secret VARBINARY(128) NULL DEFAULT NULL,
        ADD COLUMN totp_last_step BIGINT NULL DEFAULT NULL`);
    await db.query(`
      CREATE TABLE recovery_codes (
        user_pk INT UNSIGNED NOT NULL,
        code_hash BINARY(32) NOT NULL,
        used_at TIMESTAMP NULL DEFAULT NULL,
        PRIMARY KEY (user_pk, code_hash),
        CONSTRAINT recovery_codes_user FOREIGN KEY (user_pk) REFERENCES users (pk) ON DELETE CASCADE
      ) ENGINE=InnoDB`);
  },
  async down({ context: db }) {
    await db.query('DROP TABLE recovery_codes');
    await db.query('ALTER TABLE users DROP COLUMN totp_secret, DROP COLUMN totp_pending_secret, DROP COLUMN totp_last_step');
  },
};
