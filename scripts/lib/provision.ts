import mysql, { type RowDataPacket } from 'mysql2/promise';
import { isLocalHost, type MysqlTarget } from './mysqlUrl.js';

// The app may change its own schema (migrations run at start) but nothing outside its database.
const PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES';

/** Local: the names a local client connects as. Remote: only the host this machine reaches the server from. */
async function accountHosts(admin: mysql.Connection, target: MysqlTarget): Promise<string[]> {
  if (isLocalHost(target.host)) return ['localhost', '127.0.0.1', '::1'];
  const [[row]] = await admin.query<RowDataPacket[]>("SELECT SUBSTRING_INDEX(USER(), '@', -1) AS host");
  return [String(row.host)];
}

/** Creates the database and the app's account (or resets its password to the one given); safe to repeat. */
export async function provisionDatabase(admin: mysql.Connection, target: MysqlTarget): Promise<void> {
  if (target.user === 'root') throw new Error('DATABASE_URL must name an account of its own, not root');
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  for (const host of await accountHosts(admin, target)) {
    await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [target.user, host, target.password]);
    await admin.query('ALTER USER ?@? IDENTIFIED BY ?', [target.user, host, target.password]);
    await admin.query(`GRANT ${PRIVILEGES} ON \`${target.database}\`.* TO ?@?`, [target.user, host]);
  }
}

/** Removes what provisionDatabase made (the tests' throw-away databases). */
export async function dropProvisioned(admin: mysql.Connection, target: MysqlTarget): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS \`${target.database}\``);
  for (const host of await accountHosts(admin, target)) await admin.query('DROP USER IF EXISTS ?@?', [target.user, host]);
}

/** True when the account accepts this password. */
export const canLogIn = (target: MysqlTarget): Promise<boolean> =>
  mysql.createConnection({ host: target.host, port: target.port, user: target.user, password: target.password, connectTimeout: 3000 }).then(
    (conn) => conn.end().then(() => true),
    () => false,
  );

/** The last line of a .env that setup wrote and whose database account it has not made yet. */
export const NEW_ACCOUNT_MARK = '# setup: the database account of this .env is not made yet';

export interface Provisioned {
  target: MysqlTarget;
  /** One line for the person running setup when something besides creating was done. */
  note?: string;
}

/**
 * Setup's provisioning, which never silently takes an account away from another checkout: when the account
 * exists with another password and this checkout's .env was just written, this checkout gets an account and
 * database of its own (suffixed with `checkoutId`); otherwise the password is reset, and the note says so.
 */
export async function provisionCheckout(
  admin: mysql.Connection,
  target: MysqlTarget,
  { freshEnv, checkoutId }: { freshEnv: boolean; checkoutId: string },
): Promise<Provisioned> {
  const [existing] = await admin.query<RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ? LIMIT 1', [target.user]);
  if (existing.length === 0 || (await canLogIn(target))) {
    await provisionDatabase(admin, target);
    return { target };
  }
  if (freshEnv) {
    const own = { ...target, user: `${target.user}_${checkoutId}`, database: `${target.database}_${checkoutId}` };
    await provisionDatabase(admin, own);
    return {
      target: own,
      note: `account ${target.user} is in use with another password (another checkout): this checkout uses account and database ${own.user}`,
    };
  }
  await provisionDatabase(admin, target);
  return { target, note: `reset the password of account ${target.user} to the one DATABASE_URL names: whatever used its old password must be updated` };
}
