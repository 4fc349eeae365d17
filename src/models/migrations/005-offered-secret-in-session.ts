import type { Migration } from '../migrate.js';

// The TOTP secret offered for enrolment now lives with the session that was shown it (in Redis, ending with it
// and after 10 minutes), not with the account: a thief's ended session must not leave its copy to be enrolled.
export const offeredSecretInSession: Migration = {
  name: '005-offered-secret-in-session',
  async up({ context: db }) {
    await db.query('ALTER TABLE users DROP COLUMN totp_pending_secret');
  },
  async down({ context: db }) {
    await db.query('ALTER TABLE users ADD COLUMN totp_pending_secret VARBINARY(128) NULL DEFAULT NULL AFTER totp_secret');
  },
};
