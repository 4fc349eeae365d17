import { createUsers } from './001-create-users.js';
import { accountLock } from './002-account-lock.js';
import { totp } from './003-totp.js';
import { passkeys } from './004-passkeys.js';
import { offeredSecretInSession } from './005-offered-secret-in-session.js';
import { mail } from './006-mail.js';
import { securityEvents } from './007-security-events.js';

/** Every schema change, in order. Listed here rather than globbed so sources and dist/ behave alike. */
export const migrations = [createUsers, accountLock, totp, passkeys, offeredSecretInSession, mail, securityEvents];
