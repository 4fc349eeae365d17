import type { Migration } from '../migrate.js';

// Passkeys hold public keys only; deleting an account deletes its passkeys with it (ON DELETE CASCADE).
export const passkeys: Migration = {
  name: '004-passkeys',
  async up({ context: db }) {
    await db.query(`
      CREATE TABLE passkeys (
        pk INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        credential_id VARCHAR(1400) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        user_pk INT UNSIGNED NOT NULL,
        user_handle VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        public_key VARBINARY(2048) NOT NULL,
        counter INT UNSIGNED NOT NULL DEFAULT 0,
        transports VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
        name VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL DEFAULT '',
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        last_used_at TIMESTAMP NULL DEFAULT NULL,
        UNIQUE KEY passkeys_credential_unique (credential_id),
        KEY passkeys_user (user_pk),
        CONSTRAINT passkeys_user_fk FOREIGN KEY (user_pk) REFERENCES users (pk) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  },
  async down({ context: db }) {
    await db.query('DROP TABLE passkeys');
  },
};
