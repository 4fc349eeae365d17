import type { Message, MessageKey, Params } from './i18n.js';

/** Field name → what is wrong with it. */
export type FieldErrors = Record<string, Message>;

/** A form to show again with the failure: which view, and the values to keep (never passwords). */
export interface FormContext {
  view: string;
  values: Record<string, string>;
}

/**
 * An expected failure: its status, and a message key (with `params` for its placeholders) that the error
 * handler translates into the person's language. Its `message` is the key.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly key: MessageKey,
    readonly details: {
      params?: Params;
      errors?: FieldErrors;
      form?: FormContext;
      headers?: Record<string, string>;
      /** More members of a JSON answer (e.g. `stepUp: true`). */
      json?: Record<string, unknown>;
    } = {},
  ) {
    super(key);
    this.name = 'HttpError';
  }
}

/** 429 with Retry-After, and a message that says how long to wait. */
export function tooMany(waitMs: number): HttpError {
  const params = { minutes: Math.max(1, Math.ceil(waitMs / 60_000)) };
  return new HttpError(429, 'throttle.wait', { params, headers: { 'Retry-After': String(Math.ceil(waitMs / 1000)) } });
}
