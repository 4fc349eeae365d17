import type mysql from 'mysql2/promise';
import { isLocalHost, type MysqlTarget } from './mysqlUrl.js';

// The app may change its own schema (migrations run at start) but nothing outside its database.
const PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES';

const accountHosts = (target: MysqlTarget) => (isLocalHost(target.host) ? ['localhost', '127.0.0.1', '::1'] : ['%']);

/** Creates the database and the app's account (or resets its password to the one given); safe to repeat. */
export async function provisionDatabase(admin: mysql.Connection, target: MysqlTarget): Promise<void> {
  if (target.user === 'root') throw new Error('DATABASE_URL must name an account of its own, not root');
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  for (const host of accountHosts(target)) {
    await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [target.user, host, target.password]);
    await admin.query('ALTER USER ?@? IDENTIFIED BY ?', [target.user, host, target.password]);
    await admin.query(`GRANT ${PRIVILEGES} ON \`${target.database}\`.* TO ?@?`, [target.user, host]);
  }
}

/** Removes what provisionDatabase made (the tests' throw-away databases). */
export async function dropProvisioned(admin: mysql.Connection, target: MysqlTarget): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS \`${target.database}\``);
  for (const host of accountHosts(target)) await admin.query('DROP USER IF EXISTS ?@?', [target.user, host]);
}
