import os from 'node:os';
import type { RefreshSessions } from '../../src/models/refreshSessions.js';
import type { SecurityEventModel } from '../../src/models/securityEvents.js';
import type { UserModel } from '../../src/models/user.js';

/**
 * `npm run admin -- grant|revoke ID`: what it does, and what it says (exit code 1 for an unknown id). The audit names
 * the operating-system user who ran it.
 */
export async function adminCommand(
  { users, sessions, events }: { users: UserModel; sessions: RefreshSessions; events: SecurityEventModel },
  action: 'grant' | 'revoke',
  id: string,
): Promise<{ code: 0 | 1; message: string }> {
  const account = await users.findById(id);
  if (!account) return { code: 1, message: `no account has the id ${id}` };
  await users.setAdmin(account.id, action === 'grant');
  const actor = { kind: 'admin', id: `${os.userInfo().username} (npm run admin)` } as const;
  const kind = action === 'grant' ? 'admin_granted' : 'admin_revoked';
  await events.insert({ kind, userId: account.id, actor, ip: '', userAgent: '', deviceKey: '' });
  if (action === 'grant') return { code: 0, message: `${account.id} is an administrator (the admin link shows from the next login)` };
  // A demoted administrator's tokens say isAdmin: every session of the account ends.
  const ended = await sessions.revokeAll(account.id);
  return { code: 0, message: `${account.id} is no longer an administrator; ${ended} session(s) ended` };
}
