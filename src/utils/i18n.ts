import type en from '../../locales/en.json';

export const LANGUAGES = ['ko', 'en'] as const;
export type Lang = (typeof LANGUAGES)[number];
export const DEFAULT_LANG: Lang = 'ko';
export const isLang = (value: unknown): value is Lang => value === 'ko' || value === 'en';

/** A key of the message catalogues (`locales/*.json`); a typo is a compile error. */
export type MessageKey = keyof typeof en;
export type Params = Record<string, string | number>;
/** What a layer says to the person, in no language yet: a key, with values for its `{placeholders}`. */
export type Message = MessageKey | { key: MessageKey; params: Params };
export type Translate = (key: MessageKey, params?: Params) => string;

/** Compiles a catalogue once: each entry becomes a fixed string, or its parts around `{placeholders}`. */
export function compileCatalogue(entries: Record<string, string>): Translate {
  const table = new Map<string, string | string[]>();
  for (const [key, text] of Object.entries(entries)) {
    const parts = text.split(/\{(\w+)\}/); // odd indices are placeholder names
    table.set(key, parts.length === 1 ? text : parts);
  }
  return (key, params = {}) => {
    const entry = table.get(key) ?? key;
    if (typeof entry === 'string') return entry;
    return entry.map((part, i) => (i % 2 === 0 ? part : String(params[part] ?? `{${part}}`))).join('');
  };
}

export const translate = (t: Translate, message: Message): string => (typeof message === 'string' ? t(message) : t(message.key, message.params));
