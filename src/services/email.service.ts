import { mailAllowances } from '../models/mailAllowances.js';
import type { EmailAddresses, Verified } from '../models/emailAddresses.js';
import type { Sql } from '../models/transaction.js';
import type { UserModel } from '../models/user.js';
import { tooMany } from '../utils/httpError.js';
import type { Lang } from '../utils/i18n.js';
import { isTokenShaped, newToken, tokenHash } from '../utils/tokens.js';
import type { Post, PostOffice } from './mail/postOffice.js';

/** Where a mail's links point and the language it speaks: the request's (PUBLIC_ORIGIN, else its origin). */
export interface MailContext {
  lang: Lang;
  origin: string;
}

const HOUR_MS = 3_600_000;
/** A verification link works this long. */
export const VERIFY_LINK_MS = 24 * HOUR_MS;
// A signed-in person may have links sent to addresses of their choice: this many an hour, so the site is no way to flood a mailbox.
const VERIFY_MAILS_PER_HOUR = 5;

export type EmailService = ReturnType<typeof createEmailService>;

/** An account's optional email address: proposing one (a link goes to it), verifying it by the link, removing it. */
export function createEmailService({ users, addresses, mail }: { users: UserModel; addresses: EmailAddresses; mail: PostOffice }) {
  /**
   * In the caller's transaction: `address` (not the verified one) waits for its link while the verified one (if any) stays in use, and
   * the old address is told of the change. An address another account has verified gets a mail that says so
   * instead of a link, with the same answer to the person: nobody learns whose address it is.
   */
  async function propose(conn: Sql, post: Post, account: { id: string; verified: string | null }, address: string, context: MailContext) {
    const allowance = await mailAllowances.spend(conn, `verify:${account.id.toLowerCase()}`, VERIFY_MAILS_PER_HOUR, HOUR_MS);
    if (!allowance.allowed) throw tooMany(allowance.waitMs);
    await addresses.setPending(conn, account.id, address);
    if (await addresses.verifiedBy(conn, address)) {
      await post({ kind: 'addressTaken', to: address, link: '/user/forgot', ...context });
    } else {
      const token = newToken();
      await addresses.issueLink(conn, account.id, tokenHash(token), address, VERIFY_LINK_MS);
      await post({ kind: 'verifyAddress', to: address, link: `/user/email/verify?token=${token}`, params: { id: account.id }, ...context });
    }
    if (account.verified) await post({ kind: 'addressChanging', to: account.verified, link: '/user/email', params: { id: account.id, address }, ...context });
  }

  return {
    /** A new account, with the address it gave (if any) waiting for its link, in one transaction; false when the id is taken. */
    createAccount(account: { id: string; name: string; passwordHash: string }, email: string | undefined, context: MailContext): Promise<boolean> {
      return mail.transaction(async (conn, post) => {
        if (!(await users.create(account, conn))) return false;
        if (email) await propose(conn, post, { id: account.id, verified: null }, email, context);
        return true;
      });
    },

    /** A new address for the account (normalised): `unchanged` when it is the verified one already. */
    propose(userId: string, address: string, context: MailContext): Promise<'sent' | 'unchanged' | 'gone'> {
      return mail.transaction(async (conn, post) => {
        const account = await addresses.lock(conn, userId);
        if (!account) return 'gone';
        if (address === account.verified) {
          await addresses.setPending(conn, userId, null);
          return 'unchanged';
        }
        await propose(conn, post, { id: userId, ...account }, address, context);
        return 'sent';
      });
    },

    /** Removes the account's addresses; the verified one is told. */
    remove(userId: string, context: MailContext): Promise<void> {
      return mail.transaction(async (conn, post) => {
        const account = await addresses.lock(conn, userId);
        if (!account) return;
        await addresses.remove(conn, userId);
        if (account.verified) await post({ kind: 'addressRemoved', to: account.verified, link: '/user/email', params: { id: userId }, ...context });
      });
    },

    /** Spends a verification link. */
    verify: (token: string): Promise<Verified> => (isTokenShaped(token) ? addresses.verify(tokenHash(token)) : Promise.resolve({ invalid: true })),
  };
}
