import { HttpError } from '../utils/httpError.js';
import type { MessageKey } from '../utils/i18n.js';

/** A link from a mail that does not work (any more): 400, a page that says why, and where to get a new one. */
export const linkInvalid = (message: MessageKey, again: { href: string; label: MessageKey }): HttpError =>
  new HttpError(400, message, { form: { view: 'link-invalid', values: again } });
