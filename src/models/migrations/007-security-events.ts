import type { Migration } from '../migrate.js';

// An account's security activity, and the administrators' audit: one row an event. `user_pk` names the account
// without a foreign key (an administrator's action on an account outlives the account in the audit); `account_id`
// is the id as registered then. `device_key` is the browser and system without versions: what "a device this
// account has not used in 30 days" compares. Indexed for the person's page, the audit and the daily clean-up.
export const securityEvents: Migration = {
  name: '007-security-events',
  async up({ context: db }) {
    await db.query(`
      CREATE TABLE security_events (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_pk INT UNSIGNED NULL,
        account_id VARCHAR(20) CHARACTER SET ascii COLLATE ascii_general_ci NULL,
        kind VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        ip VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
        user_agent VARCHAR(256) NOT NULL DEFAULT '',
        device_key VARCHAR(96) NOT NULL DEFAULT '',
        actor_kind ENUM('self', 'admin', 'system') NOT NULL,
        actor_id VARCHAR(64) NULL,
        detail VARCHAR(255) NULL,
        KEY security_events_account (user_pk, at),
        KEY security_events_actor (actor_kind, at),
        KEY security_events_at (at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  },
  async down({ context: db }) {
    await db.query('DROP TABLE security_events');
  },
};
