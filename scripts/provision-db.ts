// Part of npm run setup: the database and a least-privilege account for the app, as DATABASE_URL names them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { DEFAULT_DATABASE_URL } from '../src/config/index.js';
import { connectAdmin } from './lib/adminDb.js';
import { parseMysqlUrl } from './lib/mysqlUrl.js';
import { NEW_ACCOUNT_MARK, provisionCheckout } from './lib/provision.js';

// An account named by the environment was chosen by a person: it is never swapped for another.
const chosenByEnvironment = process.env.DATABASE_URL !== undefined;
dotenv.config({ quiet: true });
const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;

const target = parseMysqlUrl(url);

/** The .env text with `name` set to `value` (in place of its line, commented out or not, else appended). */
const withSetting = (text: string, name: string, value: string) => {
  const line = new RegExp(`^#?\\s*${name}=.*$`, 'm');
  return line.test(text) ? text.replace(line, `${name}=${value}`) : `${text.replace(/\n?$/, '\n')}${name}=${value}\n`;
};
const admin = await connectAdmin(target.host, target.port);
try {
  const env = existsSync('.env') ? readFileSync('.env', 'utf8') : '';
  const freshEnv = env.includes(NEW_ACCOUNT_MARK) && !chosenByEnvironment;
  const checkoutId = createHash('sha256').update(process.cwd()).digest('hex').slice(0, 8);
  const done = await provisionCheckout(admin, target, { freshEnv, checkoutId });
  const own = new URL(url);
  own.username = done.target.user;
  own.pathname = `/${done.target.database}`;
  let provisioned = env.replace(`${NEW_ACCOUNT_MARK}\n`, '').replace(/^DATABASE_URL=.*$/m, () => `DATABASE_URL=${own.href}`);
  // A database of its own goes with Redis keys of its own: accounts of the same id must not share sessions or counters.
  if (done.target.database !== target.database) provisioned = withSetting(provisioned, 'REDIS_KEY_PREFIX', `lp:${checkoutId}:`);
  if (provisioned !== env) writeFileSync('.env', provisioned, { mode: 0o600 });
  if (done.note) console.log(`setup: ${done.note}`);
  console.log(`database ${done.target.database} and account ${done.target.user} are ready`);
} finally {
  await admin.end();
}
