import type { Request, RequestHandler, Response } from 'express';
import { translators } from '../config/locales.js';
import { DEFAULT_LANG, isLang, LANGUAGES, type Lang } from '../utils/i18n.js';

const COOKIE = 'lang';
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
// Few distinct Accept-Language headers exist in practice; the cache is bounded against those who invent more.
const CACHE_ENTRIES = 500;
const CACHE_HEADER_LENGTH = 200;

const OTHER: Record<Lang, Lang> = { ko: 'en', en: 'ko' };
/** Per language, made once: the link to the same page in the other language when the URL has no query. */
const PLAIN_SWITCH = Object.fromEntries(LANGUAGES.map((lang) => [lang, { lang: OTHER[lang], href: `?lang=${OTHER[lang]}` }])) as Record<Lang, LanguageSwitch>;

export interface LanguageSwitch {
  lang: Lang;
  /** Relative to the page itself, or a page of this site that a route names: never another site. */
  href: string;
}

/** Puts the page's language on res.locals: `lang`, its translator `t`, and the switch to the other language. */
export function speak(res: Response, lang: Lang, query?: string): void {
  res.locals.lang = lang;
  res.locals.t = translators[lang];
  res.locals.langSwitch = query === undefined ? PLAIN_SWITCH[lang] : switchKeepingQuery(query, OTHER[lang]);
}

function switchKeepingQuery(query: string, lang: Lang): LanguageSwitch {
  const params = new URLSearchParams(query);
  params.set('lang', lang);
  return { lang, href: `?${params}` };
}

/**
 * Mounted on an area's paths whose posts answer at an address that only takes POST (`/user/2fa/enable`): the page
 * such a post renders links to `page` (or the page it names for the request), the GET page it belongs to, in the other language.
 */
export const postsBelongTo =
  (page: string | ((req: Request) => string)): RequestHandler =>
  (req, res, next) => {
    if (req.method === 'POST') linkOtherLanguageTo(res, typeof page === 'string' ? page : page(req));
    next();
  };

/**
 * The page this response renders answers a post for `page` (a GET page of this site, its query kept): it links to
 * it in the other language, and names it (site.js puts it in the history, so Back and reload fetch it).
 */
export function linkOtherLanguageTo(res: Response, page: string): void {
  const [path, query = ''] = page.split('?', 2);
  const { lang, href } = switchKeepingQuery(query, OTHER[res.locals.lang]);
  res.locals.langSwitch = { lang, href: path + href };
  res.locals.postAnswersFor = page;
}

/**
 * Chooses the language (`?lang=`, which also sets the cookie; else the `lang` cookie; else Accept-Language by
 * q-value; else Korean). On the info page's hot path: no query, a cookie read, and a Map lookup per header.
 */
export function createLanguage(isProduction: boolean): RequestHandler {
  const cookieOptions = { httpOnly: true, sameSite: 'lax', path: '/', secure: isProduction, maxAge: YEAR_MS } as const;
  const byHeader = new Map<string, Lang>();

  function fromHeader(req: Request): Lang {
    const header = req.get('accept-language');
    if (!header) return DEFAULT_LANG;
    let lang = byHeader.get(header);
    if (lang === undefined) {
      lang = (req.acceptsLanguages(...LANGUAGES) || DEFAULT_LANG) as Lang;
      if (header.length <= CACHE_HEADER_LENGTH) {
        if (byHeader.size >= CACHE_ENTRIES) byHeader.delete(byHeader.keys().next().value!);
        byHeader.set(header, lang);
      }
    }
    return lang;
  }

  return (req, res, next) => {
    const queryStart = req.url.indexOf('?');
    const query = queryStart === -1 ? undefined : req.url.slice(queryStart + 1);
    const asked = query === undefined ? undefined : req.query.lang;
    if (isLang(asked)) res.cookie(COOKIE, asked, cookieOptions);
    const cookie: unknown = req.cookies?.[COOKIE];
    speak(res, isLang(asked) ? asked : isLang(cookie) ? cookie : fromHeader(req), query);
    // A post's answer belongs to the page of the same path (the areas name another with postsBelongTo).
    if (req.method === 'POST') linkOtherLanguageTo(res, req.path);
    next();
  };
}
