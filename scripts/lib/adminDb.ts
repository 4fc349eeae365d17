import { existsSync } from 'node:fs';
import mysql from 'mysql2/promise';

const SOCKETS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/tmp/mysql.sock'];

/**
 * MariaDB's root, as setup reaches it: DATABASE_ADMIN_URL when given, else root over TCP with an empty
 * password (some CI images), else root through the unix socket (a fresh Debian install).
 */
export async function connectAdmin(host: string, port: number): Promise<mysql.Connection> {
  const attempts: mysql.ConnectionOptions[] = process.env.DATABASE_ADMIN_URL
    ? [{ uri: process.env.DATABASE_ADMIN_URL }]
    : [{ host, port, user: 'root', password: '' }, ...SOCKETS.filter((s) => existsSync(s)).map((socketPath) => ({ socketPath, user: 'root' }))];
  const failures: string[] = [];
  for (const options of attempts) {
    try {
      return await mysql.createConnection({ ...options, connectTimeout: 3000, multipleStatements: false });
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new Error(`cannot reach MariaDB as an administrator (set DATABASE_ADMIN_URL): ${failures.join('; ')}`);
}
