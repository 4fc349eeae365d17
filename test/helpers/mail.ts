import { once } from 'node:events';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { Logger } from 'pino';
import { SMTPServer } from 'smtp-server';
import { createLogger } from '../../src/config/logger.js';
import { createConfiguredSender, type MailSender, type SenderOptions } from '../../src/services/mail/sender.js';
import { freePort } from './freePort.js';
import { makeSite } from './site.js';

/** A mail as the test server received it: the envelope's recipients and the parsed message. */
export interface Received {
  to: string[];
  mail: ParsedMail;
}

/**
 * A real SMTP server (smtp-server) on a free port of 127.0.0.1 that keeps what it receives (parsed with mailparser).
 * `stop()` and `start()` take it away and bring it back on the same port; `refuse` answers every mail with 451.
 */
export async function startSmtp({ refuse = false } = {}) {
  const port = await freePort();
  const received: Received[] = [];
  const arrived = new Set<() => void>();
  let server: SMTPServer | undefined;

  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        simpleParser(stream).then((mail) => {
          if (refuse) return callback(Object.assign(new Error('busy, try again later'), { responseCode: 451 }));
          received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), mail });
          for (const wake of arrived) wake();
          callback();
        }, callback);
      },
    });

  const smtp = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    /** Listens again (on the same port) if stopped. */
    async start() {
      if (server) return;
      server = make();
      server.listen(port, '127.0.0.1');
      await once(server.server, 'listening');
    },
    async stop() {
      const closing = server;
      server = undefined;
      if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    /** The mails received so far addressed to `address`. */
    to: (address: string) => received.filter(({ to }) => to.includes(address)).map(({ mail }) => mail),
    /** Waits until `count` mails to `address` have arrived (at most `timeoutMs`); resolves with them. */
    async waitFor(address: string, count = 1, timeoutMs = 10_000): Promise<ParsedMail[]> {
      const deadline = Date.now() + timeoutMs;
      while (smtp.to(address).length < count) {
        if (Date.now() > deadline) throw new Error(`${smtp.to(address).length} of ${count} mails to ${address} arrived within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => (arrived.delete(wake), resolve());
          arrived.add(wake);
          setTimeout(wake, 100);
        });
      }
      return smtp.to(address);
    },
    /** Waits for the `n`th mail to `address` with a link to `path` on the site (alerts may arrive between them); resolves with that link. */
    async linkTo(address: string, path: string, n = 1, timeoutMs = 10_000): Promise<URL> {
      const withLink = () => smtp.to(address).filter((mail) => hasLink(mail, path));
      for (let count = 1; withLink().length < n; count++) await smtp.waitFor(address, count, timeoutMs);
      return linkIn(withLink()[n - 1], path);
    },
  };
  await smtp.start();
  return smtp;
}

export type Smtp = Awaited<ReturnType<typeof startSmtp>>;

/** Quick back-off and polling for tests: what a test waits for takes a fraction of a second. */
export const QUICK_SENDER: SenderOptions = { pollMs: 200, backoff: { firstMs: 200, maxMs: 1000 } };

/**
 * A site that sends its mail to `smtp` (SMTP_URL), with a sender of its own that its enqueues nudge; stop the
 * sender when done. Other senders on the run's outbox may deliver its mails too (they share the table).
 */
export async function siteWithMail(env: Record<string, string>, smtp: { url: string } | undefined, options: SenderOptions & { logger?: Logger } = {}) {
  // The site is made first (the sender takes its configuration), so its nudge goes through this.
  const made: { sender?: MailSender } = {};
  const site = await makeSite({ ...(smtp ? { SMTP_URL: smtp.url } : {}), ...env }, {}, undefined, { nudgeMail: () => made.sender?.nudge() });
  const { logger = createLogger('silent'), ...senderOptions } = options;
  const sender = createConfiguredSender({ db: site.db, config: site.config, logger, ...QUICK_SENDER, ...senderOptions });
  made.sender = sender;
  sender.start();
  return { ...site, sender };
}

const linksOf = (mail: ParsedMail) => (mail.text ?? '').match(/https?:\/\/\S+/g) ?? [];
const hasLink = (mail: ParsedMail, path: string) => linksOf(mail).some((url) => new URL(url).pathname === path);

/** The first link of a mail's text part that goes to `path` on the site. */
export function linkIn(mail: ParsedMail, path: string): URL {
  const href = linksOf(mail).find((url) => new URL(url).pathname === path);
  if (!href) throw new Error(`no link to ${path} in: ${mail.text}`);
  return new URL(href);
}
