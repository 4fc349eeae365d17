import type { SecurityEvent } from '../models/securityEvents.js';
import { deviceInWords } from '../utils/device.js';
import { shownIp } from '../utils/http.js';
import type { MessageKey, Translate } from '../utils/i18n.js';

/** A security event as the activity, account and audit pages show it (and the activity page's JSON). */
export interface ShownEvent {
  kind: string;
  what: string;
  /** What it was about, in words ('' when nothing more needs saying). */
  detail: string;
  at: string;
  ip: string;
  device: string;
  actor: 'self' | 'admin' | 'system';
  /** The administrator's id (or the operating-system user of `npm run admin`). */
  admin?: string;
  who: string;
  accountId: string;
}

/** The detail column, per kind: which session or passkey, what was wrong. */
function detailOf(event: SecurityEvent, t: Translate): string {
  const { detail } = event;
  if (!detail) return '';
  switch (event.kind) {
    case 'login_failed':
      return t(detail === 'code' ? 'activity.detail.wrongCode' : 'activity.detail.wrongPassword');
    case 'session_ended':
      if (detail === 'reuse') return t('activity.detail.reuse');
      if (/^\d+$/.test(detail)) return t('activity.detail.sessions', { count: detail });
      return deviceInWords(detail, t);
    case 'passkey_added':
    case 'passkey_renamed':
    case 'passkey_removed':
    case 'email_added':
      return detail;
    default:
      return '';
  }
}

// Anyone may type an id: a failed login or a reset request is not said to be the person's own.
const UNPROVEN = new Set(['login_failed', 'reset_requested']);

/** Who did it, in words ('' when nobody proved who they were). */
function whoDid(event: SecurityEvent, t: Translate): string {
  if (event.actor.kind === 'admin') return t('activity.by.admin', { id: event.actor.id });
  if (event.actor.kind === 'self' && UNPROVEN.has(event.kind)) return '';
  return t(`activity.by.${event.actor.kind}` as MessageKey);
}

export function shownEvent(event: SecurityEvent, t: Translate): ShownEvent {
  const who = whoDid(event, t);
  return {
    kind: event.kind,
    what: t(`activity.kind.${event.kind}` as MessageKey),
    detail: detailOf(event, t),
    at: event.at.toISOString(),
    ip: shownIp(event.ip),
    device: event.userAgent ? deviceInWords(event.userAgent, t) : '',
    actor: event.actor.kind,
    ...(event.actor.kind === 'admin' ? { admin: event.actor.id } : {}),
    who,
    accountId: event.accountId ?? '',
  };
}
