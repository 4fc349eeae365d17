// Part of npm run setup: writes .env from .env.example with fresh secrets, once.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { NEW_ACCOUNT_MARK } from './lib/provision.js';

if (existsSync('.env')) {
  console.log('.env exists: kept as it is');
} else {
  const secret = () => randomBytes(32).toString('base64url');
  const text = readFileSync('.env.example', 'utf8')
    .replace(/^(ACCESS_TOKEN_SECRET|REFRESH_TOKEN_SECRET|COOKIE_SECRET|TOTP_ENCRYPTION_KEY)=$/gm, (_, name: string) => `${name}=${secret()}`)
    .replace('CHANGE_ME_DB_PASSWORD', randomBytes(18).toString('hex'));
  // Until setup has made the database account, it may give this checkout an account of its own (provision-db.ts).
  writeFileSync('.env', `${text}${NEW_ACCOUNT_MARK}\n`, { mode: 0o600 });
  console.log('.env written with fresh secrets');
}
