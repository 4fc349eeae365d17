import { LANGUAGES, type Lang } from './i18n.js';

/** A server-rendered page cannot know the browser's zone: Korean pages show Seoul time, English ones UTC (with the zone named). */
const ZONES: Record<Lang, string> = { ko: 'Asia/Seoul', en: 'UTC' };
const LOCALES: Record<Lang, string> = { ko: 'ko-KR', en: 'en' };
const OPTIONS: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };
const FORMATS = Object.fromEntries(LANGUAGES.map((lang) => [lang, new Intl.DateTimeFormat(LOCALES[lang], { ...OPTIONS, timeZone: ZONES[lang] })])) as Record<
  Lang,
  Intl.DateTimeFormat
>;
// Some ICU versions (Node's among them) give Korean "AM/PM"; a Korean reader expects 오전/오후.
const KOREAN_DAY_PERIODS: Record<string, string> = { AM: '오전', PM: '오후' };

/** A date and time as a person of this language reads it, in the zone their language implies. */
export function formatDateTime(lang: Lang, at: Date | string): string {
  const parts = FORMATS[lang].formatToParts(new Date(at));
  return parts.map(({ type, value }) => (lang === 'ko' && type === 'dayPeriod' ? (KOREAN_DAY_PERIODS[value] ?? value) : value)).join('');
}
