import { translators } from '../../config/locales.js';
import type { Lang, Params } from '../../utils/i18n.js';

/** Every mail the site sends: those of the email address and the reset, and the alerts (services/alerts.ts). */
export type MailKind =
  | 'verifyAddress'
  | 'addressTaken'
  | 'addressChanging'
  | 'addressRemoved'
  | 'resetLink'
  | 'passwordReset'
  | 'alertNewDevice'
  | 'alertPasswordChanged'
  | 'alertTotpOn'
  | 'alertTotpOff'
  | 'alertPasskeyAdded';

/** A mail in words, as the outbox keeps it (sealed): who, what, and its parts. */
export interface Message {
  to: string;
  lang: Lang;
  subject: string;
  text: string;
  html: string;
  /** The links it carries (the log transport prints them). */
  links: string[];
}

/** What a mail of `kind` says (`email.<kind>.*`): its subject, a paragraph, its one link as a button, a paragraph for a person who did not ask for it. */
const wordsOf = (kind: MailKind) =>
  ({ subject: `email.${kind}.subject`, intro: `email.${kind}.intro`, action: `email.${kind}.action`, notYou: `email.${kind}.notYou` }) as const;

/** A mail to write: its kind, where and in which language, the site's origin for its link, and the values of its words. */
export interface Letter {
  kind: MailKind;
  to: string;
  lang: Lang;
  /** PUBLIC_ORIGIN, or the origin of the request that caused the mail. */
  origin: string;
  /** The path (and query) of the mail's link on the site, its button. */
  link: string;
  /** A second path, shown after the words for a person who did not ask for it (an alert's way to a reset). */
  help?: string;
  params?: Params;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The mail's subject and its text and HTML parts, in the letter's language (links from the letter's origin). */
export function compose(letter: Letter): Message {
  const t = translators[letter.lang];
  const words = wordsOf(letter.kind);
  const params = { site: new URL(letter.origin).host, ...letter.params };
  const [subject, intro, action, notYou] = [t(words.subject, params), t(words.intro, params), t(words.action, params), t(words.notYou, params)];
  const [copy, footer] = [t('email.copyLink'), t('email.footer', params)];
  const url = new URL(letter.link, letter.origin).href;
  const help = letter.help && new URL(letter.help, letter.origin).href;
  const text = [intro, `${action}:\n${url}`, help ? `${notYou}\n${help}` : notYou, `-- \n${footer}`].join('\n\n') + '\n';
  const paragraph = (words: string) => `<p style="margin:0 0 16px">${escapeHtml(words)}</p>`;
  const html = `<!doctype html>
<html lang="${letter.lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:24px 12px;background:#eef2f8;color:#1b2130;font:16px/1.6 system-ui,-apple-system,'Segoe UI','Apple SD Gothic Neo','Malgun Gothic',sans-serif">
<div style="max-width:32rem;margin:0 auto;padding:24px;background:#ffffff;border:1px solid #cfd6e2;border-radius:12px">
${paragraph(intro)}
<p style="margin:24px 0"><a href="${escapeHtml(url)}" style="display:inline-block;padding:10px 20px;background:#1a56c4;color:#ffffff;border-radius:8px;font-weight:600;text-decoration:none">${escapeHtml(action)}</a></p>
<p style="margin:0 0 16px;font-size:14px;color:#556070">${escapeHtml(copy)}<br><a href="${escapeHtml(url)}" style="color:#1a56c4;word-break:break-all">${escapeHtml(url)}</a></p>
${paragraph(notYou)}
${help ? `<p style="margin:0 0 16px"><a href="${escapeHtml(help)}" style="color:#1a56c4;word-break:break-all">${escapeHtml(help)}</a></p>\n` : ''}<p style="margin:24px 0 0;padding-top:16px;border-top:1px solid #cfd6e2;font-size:13px;color:#556070">${escapeHtml(footer)}</p>
</div>
</body>
</html>
`;
  return { to: letter.to, lang: letter.lang, subject, text, html, links: help ? [url, help] : [url] };
}
