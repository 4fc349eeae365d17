import { randomUUID } from 'node:crypto';
import type { PoolConnection } from 'mysql2/promise';
import type { Db } from '../../config/clients.js';
import type { Outbox } from '../../models/outbox.js';
import { inTransaction } from '../../models/transaction.js';
import { deriveKey, open, seal } from '../../utils/sealed.js';
import { compose, type Letter, type Message } from './compose.js';

/** Writes a letter into the outbox of the caller's transaction; `carrying`: the hash of its link's token (see Outbox.add). */
export type Post = (letter: Letter, carrying?: Buffer) => Promise<void>;

export type MailSeal = ReturnType<typeof createMailSeal>;

/**
 * Mails at rest hold live links: each payload is sealed (AES-256-GCM under a key derived from TOTP_ENCRYPTION_KEY
 * for this purpose alone) and bound to its Message-ID, so a payload copied to another row opens nothing.
 */
export function createMailSeal(masterKey: string) {
  const key = deriveKey(masterKey, 'mail outbox encryption');
  return {
    seal: (message: Message, messageId: string): Buffer => seal(key, Buffer.from(JSON.stringify(message)), Buffer.from(messageId)),
    open(payload: Buffer, messageId: string): Message | undefined {
      const plain = open(key, payload, Buffer.from(messageId));
      return plain && (JSON.parse(plain.toString('utf8')) as Message);
    },
  };
}

export type PostOffice = ReturnType<typeof createPostOffice>;

/**
 * Mail, as every area writes it: in the transaction of the change that causes it (and of the token it carries),
 * into the outbox, from which the sender delivers it; the request answers without waiting for any SMTP server.
 */
export function createPostOffice({
  db,
  outbox,
  mailSeal,
  fromDomain,
  nudge,
}: {
  db: Db;
  outbox: Outbox;
  mailSeal: MailSeal;
  /** The domain of MAIL_FROM, for Message-IDs. */
  fromDomain: string;
  /** Wakes this process's sender, if it has one. */
  nudge: () => void;
}) {
  return {
    /** Runs `work` in one transaction, in which `post` writes mails; after the commit the sender is woken. */
    async transaction<T>(work: (conn: PoolConnection, post: Post) => Promise<T>): Promise<T> {
      const result = await inTransaction(db, (conn) =>
        work(conn, async (letter, carrying) => {
          // Fixed when written: every attempt sends the same Message-ID, so a receiver can tell a repeat.
          const messageId = `<${randomUUID()}@${fromDomain}>`;
          await outbox.add(conn, { messageId, kind: letter.kind, payload: mailSeal.seal(compose(letter), messageId) }, carrying);
        }),
      );
      nudge();
      return result;
    },
  };
}
