import { LANGUAGES, type Lang } from './i18n.js';

const LOCALES: Record<Lang, string> = { ko: 'ko-KR', en: 'en' };
// The person's time zone is unknown to a server-rendered page: the zone is named with the time.
const OPTIONS: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };
const FORMATS = Object.fromEntries(LANGUAGES.map((lang) => [lang, new Intl.DateTimeFormat(LOCALES[lang], OPTIONS)])) as Record<Lang, Intl.DateTimeFormat>;

/** A date and time (ISO 8601) as a person of this language reads it. */
export const formatDateTime = (lang: Lang, iso: string): string => FORMATS[lang].format(new Date(iso));
