import Bowser from 'bowser';
import type { Translate } from './i18n.js';

// Bowser names a browser it does not know after the User-Agent's first word: any text a client chose.
const PART_MAX = 40;

const clip = (text: string | undefined): string => (text ?? '').trim().slice(0, PART_MAX);

/** What a User-Agent says of the device without versions ("Chrome|Windows"): a browser update is no new device. */
export function deviceKey(userAgent: string): string {
  const { browser, os } = userAgent.trim() ? Bowser.parse(userAgent) : { browser: {}, os: {} };
  return `${clip(browser.name)}|${clip(os.name)}`;
}

/** The device a User-Agent names, in words: "Chrome 131 on Windows", else what is known, else "unknown device". */
export function deviceInWords(userAgent: string, t: Translate): string {
  const { browser, os } = userAgent.trim() ? Bowser.parse(userAgent) : { browser: {}, os: {} };
  const name = clip(browser.name);
  const major = name && clip(browser.version).split('.')[0];
  const software = [name, major].filter(Boolean).join(' ');
  const system = clip(os.name);
  if (software && system) return t('sessions.device', { browser: software, os: system });
  return software || system || t('sessions.unknownDevice');
}
