// npm run db:migrate: creates the database if the account may, then applies pending migrations.
import dotenv from 'dotenv';
import mysql from 'mysql2/promise';
import { createDb } from '../src/config/clients.js';
import { DEFAULT_DATABASE_URL } from '../src/config/index.js';
import { migrate } from '../src/models/migrate.js';
import { parseMysqlUrl } from './lib/mysqlUrl.js';

dotenv.config({ quiet: true });
const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const target = parseMysqlUrl(url);

try {
  const conn = await mysql.createConnection({ host: target.host, port: target.port, user: target.user, password: target.password });
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`).catch(() => undefined);
  await conn.end();
  const db = createDb(url);
  const applied = await migrate(db);
  await db.end();
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database schema is current');
} catch (err) {
  console.error(`migration failed: ${(err as Error).message}`);
  process.exit(1);
}
