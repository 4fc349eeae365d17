import type { IdTag } from '../middleware/requestLog.js';
import { mailAllowances } from '../models/mailAllowances.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import type { ResetLinks } from '../models/resetLinks.js';
import type { UserModel } from '../models/user.js';
import { ID_PATTERN, normalisedEmail } from '../utils/inputRules.js';
import type { Passwords } from '../utils/password.js';
import { isTokenShaped, newToken, tokenHash } from '../utils/tokens.js';
import type { MailContext } from './email.service.js';
import type { PostOffice } from './mail/postOffice.js';

const HOUR_MS = 3_600_000;
/** Reset mails an account gets an hour at most, however many requests name it. */
export const RESET_MAILS_PER_HOUR = 3;
/** A reset link an administrator makes works this long (it is handed over another way). */
export const ADMIN_LINK_MS = 24 * HOUR_MS;

/** How a reset went. */
export type ResetOutcome = { done: true } | { invalid: true } | { sameAsCurrent: true };

export type Recovery = ReturnType<typeof createRecovery>;

/** Getting back in without the password: a reset link by mail (or from an administrator), and the reset it allows. */
export function createRecovery({
  users,
  resetLinks,
  sessions,
  passwords,
  mail,
  tag,
  resetTtlMs,
}: {
  users: UserModel;
  resetLinks: ResetLinks;
  sessions: RefreshSessions;
  passwords: Passwords;
  mail: PostOffice;
  /** Names what someone typed without storing it. */
  tag: IdTag;
  resetTtlMs: number;
}) {
  return {
    /**
     * "Forgot my password" for an id or an email address. An account with a verified address (and mails left this
     * hour) gets a link. The same work is done whether or not one matches (one lookup, a mail composed and sealed, one
     * write transaction of the same statements, which store nothing without a match), so neither the answer nor its
     * time tells whether an account exists. Whether a mail was written, and the account's id when one matched.
     */
    async forgot(login: string, context: MailContext): Promise<{ sent: boolean; accountId: string | undefined }> {
      const typed = login.trim();
      const account = await users.findByLogin(ID_PATTERN.test(typed) ? { id: typed } : { email: normalisedEmail(typed) ?? typed });
      const token = newToken();
      const hash = tokenHash(token);
      const letter = {
        kind: 'resetLink',
        to: account?.email ?? typed,
        link: `/user/reset?token=${token}`,
        params: { id: account?.id ?? typed, minutes: Math.round(resetTtlMs / 60_000) },
        ...context,
      } as const;
      // The account's count, however it was named; without one, the count of what was typed (a row written either way).
      const subject = `reset:${tag(account ? `account ${account.id}` : `typed ${typed}`)}`;
      const sent = await mail.transaction(async (conn, post) => {
        const allowance = await mailAllowances.spend(conn, subject, RESET_MAILS_PER_HOUR, HOUR_MS);
        const issued = await resetLinks.issue(allowance.allowed && account?.emailVerified ? account.id : null, hash, resetTtlMs, conn);
        await post(letter, hash);
        return issued;
      });
      return { sent, accountId: account?.id };
    },

    /** The account a good link resets (the reset page names it), or undefined. */
    accountOf: (token: string): Promise<string | undefined> => (isTokenShaped(token) ? resetLinks.accountOf(tokenHash(token)) : Promise.resolve(undefined)),

    /**
     * Sets a new password through a good link: of parallel posts of one link one goes on (the link is claimed before
     * any hashing). As at a password change, every session ends before the write and again after it (a login with
     * the old password in flight); the link and the account's other reset links are spent; the verified address is
     * told. A second factor is untouched: the next login still asks for it.
     */
    async reset(input: { token: string; userId: string; password: string; context: MailContext }): Promise<ResetOutcome> {
      const hash = tokenHash(input.token);
      if (!(await resetLinks.claim(hash))) return { invalid: true };
      let spent = false;
      try {
        const account = await users.findById(input.userId);
        if (!account) return { invalid: true };
        if (await passwords.verify(account.passwordHash, input.password)) return { sameAsCurrent: true };
        const passwordHash = await passwords.hash(input.password);
        await sessions.revokeAll(account.id);
        spent = await mail.transaction(async (conn, post) => {
          if (!(await resetLinks.spend(conn, hash, account.id, passwordHash))) return false;
          if (account.emailVerified && account.email) {
            await post({ kind: 'passwordReset', to: account.email, link: '/user/login', params: { id: account.id }, ...input.context });
          }
          return true;
        });
        if (!spent) return { invalid: true };
        await sessions.revokeAll(account.id);
        return { done: true };
      } finally {
        if (!spent) await resetLinks.release(hash).catch(() => undefined);
      }
    },

    /** A reset link for an administrator to hand over (ADMIN_LINK_MS, the rules of a mailed one); undefined for an unknown account. */
    async adminLink(userId: string, origin: string): Promise<string | undefined> {
      const token = newToken();
      return (await resetLinks.issue(userId, tokenHash(token), ADMIN_LINK_MS)) ? new URL(`/user/reset?token=${token}`, origin).href : undefined;
    },
  };
}
