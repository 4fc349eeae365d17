import { translators } from '../../src/config/locales.js';

/** The catalogues' own words, so that a test checks the message a person reads without copying its text. */
export const { ko, en } = translators;
