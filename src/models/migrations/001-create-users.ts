import type { Migration } from '../migrate.js';

// ascii_general_ci makes the id unique, and matched, without regard to case.
export const createUsers: Migration = {
  name: '001-create-users',
  async up({ context: db }) {
    await db.query(`
      CREATE TABLE users (
        pk INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        id VARCHAR(20) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
        name VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
        password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        is_admin BOOLEAN NOT NULL DEFAULT FALSE,
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        UNIQUE KEY users_id_unique (id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  },
  async down({ context: db }) {
    await db.query('DROP TABLE users');
  },
};
