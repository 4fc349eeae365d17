import { dictionary } from '@zxcvbn-ts/language-common';
import type { FieldErrors } from './httpError.js';
import type { Message } from './i18n.js';

export const ID_PATTERN = /^[A-Za-z0-9_]{4,20}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const NAME_MAX = 50;
export const EMAIL_MAX = 254;
// Control, format (bidi marks, zero-width spaces, soft hyphen...), line and paragraph separators, surrogate,
// private-use and unassigned code points. Zero-width (non-)joiners stay where emoji sequences and some scripts
// need them: between two visible characters.
const UNPRINTABLE =
  /(?![\u200C\u200D])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]|(?<![\p{L}\p{N}\p{M}\p{P}\p{S}])[\u200C\u200D]|[\u200C\u200D](?![\p{L}\p{N}\p{M}\p{P}\p{S}])/u;
// What a reader sees: a letter, digit, mark, punctuation or symbol that is not a blank filler (Hangul fillers
// are letters that show nothing).
const VISIBLE = /(?![\u115F\u1160\u3164\uFFA0\u2800])[\p{L}\p{N}\p{P}\p{S}]/u;

// zxcvbn-ts ships the ~50,000 most common passwords (MIT); compared without regard to case.
const COMMON_PASSWORDS = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));

/** Ids are unique without regard to case: `Alice` and `alice` name one account. */
export const sameId = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** Lengths count Unicode code points, not UTF-16 units. */
export const codePoints = (text: string): number => [...text].length;

/** A text field of a posted form: '' when it is missing or not text (an array from repeated keys, a JSON object). */
export function textField(fields: Record<string, unknown>, name: string): string {
  const value = fields[name];
  return typeof value === 'string' ? value : '';
}

export interface Registration {
  id: string;
  name: string;
  password: string;
  /** The optional address, normalised (checkEmail). */
  email?: string | undefined;
}

/** Checks a registration form; `values` holds what may be shown again (never the passwords). */
export function checkRegistration(body: Record<string, unknown>): { registration: Registration; values: Record<string, string>; errors: FieldErrors } {
  const id = textField(body, 'id').trim();
  const name = textField(body, 'name').trim().normalize('NFC');
  const password = textField(body, 'password');
  const typedEmail = textField(body, 'email').trim();
  const errors: FieldErrors = {};

  if (!ID_PATTERN.test(id)) errors.id = 'register.idInvalid';
  const nameProblem = checkName(name);
  if (nameProblem) errors.name = nameProblem;
  Object.assign(errors, checkNewPassword(body, id));
  const email = typedEmail ? normalisedEmail(typedEmail) : undefined;
  if (typedEmail && !email) errors.email = 'field.email.invalid';

  return { registration: { id, name, password, email }, values: { id: id.slice(0, 100), name: name.slice(0, 200), email: typedEmail.slice(0, 300) }, errors };
}

// Anything a reader would not see, or that no mailbox name has: spaces, controls, angle brackets, commas.
const NOT_IN_AN_ADDRESS = /[\s\p{Cc}\p{Cf}<>,;"]/u;

/**
 * An email address by the contract's rule (at most 254 characters, one `@`, a dot inside the domain), in the form
 * it is stored and compared in: NFC and lower case, so that `Kim@Example.com` and `kim@example.com` are one address.
 * Undefined when it breaks the rule.
 */
export function normalisedEmail(typed: string): string | undefined {
  const address = typed.trim().normalize('NFC').toLowerCase();
  const [local, domain, ...more] = address.split('@');
  if (more.length > 0 || !local || !domain || codePoints(address) > EMAIL_MAX || NOT_IN_AN_ADDRESS.test(address)) return undefined;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((label) => label !== '') ? address : undefined;
}

/** A name (an account's, a passkey's), trimmed and NFC-normalised: 1–50 code points that show something. */
export function checkName(name: string): Message | undefined {
  if (codePoints(name) < 1 || codePoints(name) > NAME_MAX) return { key: 'register.nameLength', params: { max: NAME_MAX } };
  if (UNPRINTABLE.test(name) || !VISIBLE.test(name)) return 'register.nameUnprintable';
  return undefined;
}

/** A new password (`password`, `confirmPassword`) for the account `id`, at registration and at a password change. */
export function checkNewPassword(body: Record<string, unknown>, id: string): FieldErrors {
  const password = textField(body, 'password');
  const problem = checkPassword(password, id);
  if (problem) return { password: problem };
  if (textField(body, 'confirmPassword') !== password) return { confirmPassword: 'register.passwordMismatch' };
  return {};
}

function checkPassword(password: string, id: string): Message | undefined {
  const length = codePoints(password);
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) return { key: 'register.passwordLength', params: { min: PASSWORD_MIN, max: PASSWORD_MAX } };
  if (password.toLowerCase() === id.toLowerCase()) return 'register.passwordSameAsId';
  if (COMMON_PASSWORDS.has(password.toLowerCase())) return 'register.passwordCommon';
  return undefined;
}

/** A login can only succeed with a well-formed id and a password of allowed length. */
export function isPlausibleLogin(id: string, password: string): boolean {
  const length = codePoints(password);
  return ID_PATTERN.test(id) && length >= 1 && length <= PASSWORD_MAX;
}
