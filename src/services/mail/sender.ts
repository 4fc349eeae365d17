import type { Logger } from 'pino';
import type { Db } from '../../config/clients.js';
import type { Config } from '../../config/index.js';
import { createOutbox, type Attempted, type DueMail, type Outbox } from '../../models/outbox.js';
import { withTimeout } from '../../models/storeErrors.js';
import { createMailSeal, type MailSeal } from './postOffice.js';
import { logTransport, smtpTransport, type MailTransport } from './transport.js';

const HOUR_MS = 3_600_000;

export interface SenderOptions {
  /** How often the outbox is read when nothing nudges the sender. */
  pollMs?: number;
  /** The wait after the first failed attempt; it doubles with each failure, up to `maxMs`. */
  backoff?: { firstMs: number; maxMs: number };
  /** How long a mail is tried before it is given up (tests shorten it). */
  retryWindowMs?: number;
}

// Past the SMTP timeouts, a hard bound: a mail's row is never held longer.
const ATTEMPT_TIMEOUT_MS = 30_000;
const PURGE_EVERY_MS = HOUR_MS;
// Sent and given-up mails (no payload left) are kept this long, to tell that they went.
const KEEP_DONE_MS = 7 * 24 * HOUR_MS;

/** An SMTP error as the log may show it: its codes, and its text without anything that looks like a link. */
function described(err: unknown) {
  const { code, responseCode, command, message } = err as { code?: string; responseCode?: number; command?: string; message?: string };
  return {
    code,
    responseCode,
    command,
    message: String(message ?? err)
      .replace(/\bhttps?:\/\/\S+/g, '[link]')
      .slice(0, 200),
  };
}

export type MailSender = ReturnType<typeof createMailSender>;

/**
 * Delivers the outbox: one mail at a time per row across every instance and worker (the row stays locked while
 * its mail is on the way), at once when nudged by an enqueue in this process and every `pollMs` otherwise. A
 * failure is tried again after a back-off that doubles (with jitter, so instances do not retry in step) for
 * `retryWindowMs` (24 h); then the mail is given up. Logs never show a mail's links or payload.
 */
export function createMailSender({
  outbox,
  mailSeal,
  transport,
  logger,
  pollMs = 3_000,
  backoff = { firstMs: 5_000, maxMs: HOUR_MS },
  retryWindowMs = 24 * HOUR_MS,
}: { outbox: Outbox; mailSeal: MailSeal; transport: MailTransport; logger: Logger } & SenderOptions) {
  let stopped = true;
  let nudged = false;
  let wake: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let lastPurge = 0;

  const delayAfter = (attempts: number) => Math.min(backoff.maxMs, backoff.firstMs * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);

  async function attempt(mail: DueMail): Promise<Attempted> {
    const about = { mail: mail.pk, kind: mail.kind, attempt: mail.attempts + 1 };
    const message = mailSeal.open(mail.payload, mail.messageId);
    if (!message) {
      logger.error(about, 'mail given up: its payload does not open (another TOTP_ENCRYPTION_KEY?)');
      return { failed: true };
    }
    try {
      await withTimeout(transport.send(message, mail.messageId), ATTEMPT_TIMEOUT_MS);
      logger.info({ ...about, messageId: mail.messageId }, 'mail sent');
      return { sent: true };
    } catch (err) {
      const left = retryWindowMs - mail.ageMs;
      if (left <= 0) {
        logger.error({ ...about, err: described(err) }, 'mail given up: not delivered within its retry window');
        return { failed: true };
      }
      // The last attempt falls at the end of the window.
      const retryInMs = Math.round(Math.min(left, delayAfter(about.attempt)));
      logger.warn({ ...about, retryInMs, err: described(err) }, 'mail not sent: trying again later');
      return { retryInMs };
    }
  }

  async function drain(): Promise<void> {
    try {
      while (!stopped && (await outbox.takeNext(attempt)));
      if (Date.now() - lastPurge > PURGE_EVERY_MS) {
        await outbox.purgeDone(KEEP_DONE_MS);
        lastPurge = Date.now();
      }
    } catch (err) {
      logger.warn({ err: described(err) }, 'mail outbox not reachable: trying again');
    }
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      nudged = false;
      await drain();
      if (stopped || nudged) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => (clearTimeout(timer), resolve());
      });
      wake = undefined;
    }
  }

  return {
    start(): void {
      if (!stopped) return;
      stopped = false;
      running = loop();
    },

    /** A mail was just written in this process: look now rather than at the next poll. */
    nudge(): void {
      nudged = true;
      wake?.();
    },

    /** Finishes the attempt under way (bounded) and stops; the outbox keeps the rest for the next start. */
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await running;
      transport.close();
    },
  };
}

/** The site's sender as configured: to SMTP_URL's server, or (unset) into the log. */
export function createConfiguredSender({ db, config, logger, ...options }: { db: Db; config: Config; logger: Logger } & SenderOptions): MailSender {
  const transport = config.mail.smtpUrl ? smtpTransport(config.mail.smtpUrl, config.mail.from) : logTransport(logger);
  return createMailSender({ outbox: createOutbox(db), mailSeal: createMailSeal(config.secrets.totp), transport, logger, ...options });
}
