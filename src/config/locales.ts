import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compileCatalogue, LANGUAGES, type Lang, type Translate } from '../utils/i18n.js';
import { localesDir } from './paths.js';

export const readCatalogue = (lang: Lang): Record<string, string> => JSON.parse(readFileSync(path.join(localesDir, `${lang}.json`), 'utf8'));

/** One translator per language, compiled once at start. */
export const translators = Object.fromEntries(LANGUAGES.map((lang) => [lang, compileCatalogue(readCatalogue(lang))])) as Record<Lang, Translate>;
