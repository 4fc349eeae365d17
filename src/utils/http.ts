import type { Request, Response } from 'express';

/** JSON clients say so with `Accept: application/json` and do not also accept HTML. */
export const wantsJson = (req: Request): boolean => req.accepts(['html', 'json']) === 'json';

/** A `next` target is followed only when it is a path on this site (not `//host` or `/\host`, no control characters). */
export function safeNextPath(next: unknown): string | undefined {
  if (typeof next !== 'string' || next.length > 2048) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  return /^\/(?![/\\])[^\u0000-\u0020\u007f]*$/.test(next) ? next : undefined;
}

/** A form post succeeded: browsers are sent on with 303, JSON clients get `{ success: true }`. */
export function succeed(req: Request, res: Response, location: string): void {
  if (wantsJson(req)) res.json({ success: true });
  else res.redirect(303, location);
}

/** The client's address: behind a proxy only as far as TRUST_PROXY says to believe X-Forwarded-For. */
export const clientIp = (req: Request): string => req.ip ?? 'unknown';

/** What a refresh session records about the device that logged in. */
export const clientOf = (req: Request) => ({ userAgent: req.get('user-agent') ?? '', ip: clientIp(req) });
