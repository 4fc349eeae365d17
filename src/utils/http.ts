import { isIPv6 } from 'node:net';
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

/**
 * Who the throttles count: the client's address, or for IPv6 its /64 (one subscriber's network: a client that
 * holds a /64 would otherwise have 2^64 counters). An IPv4-mapped address counts as the IPv4 one.
 */
export function clientNetwork(req: Request): string {
  const ip = clientIp(req).replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head, tail] = ip.split('::').map((part) => (part ? part.split(':') : []));
  // An embedded IPv4 tail fills two groups; `::` stands for the zero groups that are missing.
  const width = (groups: string[]) => groups.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0);
  const groups = [...head, ...Array<string>(tail ? 8 - width(head) - width(tail) : 0).fill('0'), ...(tail ?? [])];
  return `${groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** What a refresh session records about the device that logged in. */
export const clientOf = (req: Request) => ({ userAgent: req.get('user-agent') ?? '', ip: clientIp(req) });
