// Part of npm run setup: the database and a least-privilege account for the app, as DATABASE_URL names them.
import dotenv from 'dotenv';
import { DEFAULT_DATABASE_URL } from '../src/config/index.js';
import { connectAdmin } from './lib/adminDb.js';
import { isLocalHost, parseMysqlUrl } from './lib/mysqlUrl.js';

dotenv.config({ quiet: true });
const target = parseMysqlUrl(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
if (target.user === 'root') throw new Error('DATABASE_URL must name an account of its own, not root');

// The app may change its own schema (migrations run at start) but nothing outside its database.
const PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES';
const hosts = isLocalHost(target.host) ? ['localhost', '127.0.0.1', '::1'] : ['%'];

const admin = await connectAdmin(target.host, target.port);
try {
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  for (const host of hosts) {
    await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [target.user, host, target.password]);
    await admin.query('ALTER USER ?@? IDENTIFIED BY ?', [target.user, host, target.password]);
    await admin.query(`GRANT ${PRIVILEGES} ON \`${target.database}\`.* TO ?@?`, [target.user, host]);
  }
  console.log(`database ${target.database} and account ${target.user} are ready`);
} finally {
  await admin.end();
}
