import type { Migration } from '../migrate.js';

// A locked account keeps its row (and id) but cannot log in; administrators lock and unlock it.
export const accountLock: Migration = {
  name: '002-account-lock',
  async up({ context: db }) {
    await db.query('ALTER TABLE users ADD COLUMN locked_at TIMESTAMP NULL DEFAULT NULL');
  },
  async down({ context: db }) {
    await db.query('ALTER TABLE users DROP COLUMN locked_at');
  },
};
