export type FieldErrors = Record<string, string>;

/** A form to show again with the failure: which view, and the values to keep (never passwords). */
export interface FormContext {
  view: string;
  values: Record<string, string>;
}

/** An expected failure: its status and message are safe to show to the person. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: { errors?: FieldErrors; form?: FormContext; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
