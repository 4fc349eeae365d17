import { translators } from '../config/locales.js';
import { mailAllowances } from '../models/mailAllowances.js';
import type { ActivityKind, NewSecurityEvent } from '../models/securityEvents.js';
import type { IdTag } from '../middleware/requestLog.js';
import type { UserModel } from '../models/user.js';
import { formatDateTime } from '../utils/dateTime.js';
import { deviceInWords } from '../utils/device.js';
import { shownIp } from '../utils/http.js';
import type { MailContext } from './email.service.js';
import type { MailKind } from './mail/compose.js';
import type { PostOffice } from './mail/postOffice.js';

/** The events a person is told of by mail (the email change and the password reset mail from their own changes). */
const ALERTS: Partial<Record<ActivityKind, MailKind>> = {
  login_new_device: 'alertNewDevice',
  password_changed: 'alertPasswordChanged',
  totp_on: 'alertTotpOn',
  totp_off: 'alertTotpOff',
  passkey_added: 'alertPasskeyAdded',
};
// At most one alert of a kind per account in this window: a burst of logins is one mail, not a flood.
const ALERT_WINDOW_MS = 600_000;

export type Alerts = ReturnType<typeof createAlerts>;

/**
 * Alerts by mail to the account's verified address, through the outbox: what happened, when, from where, and what
 * to do if it was not the person (the sessions page, and a reset). The window is counted in the mail's transaction,
 * so of parallel events exactly one writes a mail.
 */
export function createAlerts({ users, mail, tag }: { users: UserModel; mail: PostOffice; tag: IdTag }) {
  return {
    async send(event: NewSecurityEvent, context: MailContext): Promise<void> {
      const kind = ALERTS[event.kind];
      if (!kind) return;
      const account = await users.findById(event.userId);
      if (!account?.email || !account.emailVerified) return;
      const t = translators[context.lang];
      const params = {
        id: account.id,
        at: formatDateTime(context.lang, new Date()),
        ip: shownIp(event.ip) || '?',
        device: deviceInWords(event.userAgent, t),
        name: event.detail ?? '',
      };
      await mail.transaction(async (conn, post) => {
        const allowance = await mailAllowances.spend(conn, `alert:${tag(`${kind} ${account.id}`)}`, 1, ALERT_WINDOW_MS);
        if (allowance.allowed) await post({ kind, to: account.email!, link: '/user/sessions', help: '/user/forgot', params, ...context });
      });
    },
  };
}
