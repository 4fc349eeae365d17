import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Message } from './compose.js';

/** One delivery attempt of a mail; a rejection is a failure to try again later. */
export interface MailTransport {
  send(message: Message, messageId: string): Promise<void>;
  close(): void;
}

// A row stays locked while its mail is on the way: every wait of an SMTP exchange is bounded.
export const SMTP_TIMEOUTS = { connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 15_000, dnsTimeout: 5_000 };

/** Headers that tell auto-responders (and people's rules) that no person wrote this mail. */
const headersOf = (message: Message) => ({ 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All', 'Content-Language': message.lang });

/** nodemailer over SMTP (`smtp://`, `smtps://`), one connection per mail. */
export function smtpTransport(smtpUrl: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS });
  return {
    async send(message, messageId) {
      const { to, subject, text, html } = message;
      await transporter.sendMail({ from, to, subject, text, html, messageId, headers: headersOf(message) });
    },
    close: () => transporter.close(),
  };
}

/** Without SMTP_URL: each mail is one log line with its links (development needs no mail server). */
export function logTransport(logger: Logger): MailTransport {
  return {
    send({ to, subject, links }) {
      logger.info({ mail: { to, subject, links } }, 'mail written to the log (SMTP_URL is unset)');
      return Promise.resolve();
    },
    close: () => undefined,
  };
}
