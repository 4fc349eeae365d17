// Part of npm run setup: the database and a least-privilege account for the app, as DATABASE_URL names them.
import dotenv from 'dotenv';
import { DEFAULT_DATABASE_URL } from '../src/config/index.js';
import { connectAdmin } from './lib/adminDb.js';
import { parseMysqlUrl } from './lib/mysqlUrl.js';
import { provisionDatabase } from './lib/provision.js';

dotenv.config({ quiet: true });
const target = parseMysqlUrl(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
const admin = await connectAdmin(target.host, target.port);
try {
  await provisionDatabase(admin, target);
  console.log(`database ${target.database} and account ${target.user} are ready`);
} finally {
  await admin.end();
}
