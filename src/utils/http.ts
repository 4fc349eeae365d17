import ipaddr from 'ipaddr.js';
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
 * holds a /64 would otherwise have 2^64 counters). Every form of an IPv4 address (mapped, compatible, hex)
 * counts as that address; a port or brackets that a proxy wrote into X-Forwarded-For are dropped.
 */
export function clientNetwork(req: Request): string {
  const raw = clientIp(req);
  const bare = raw
    .replace(/^\[([^\]]+)\](?::\d+)?$/, '$1')
    .replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1')
    .replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return raw;
  const address = ipaddr.process(bare);
  if (address.kind() === 'ipv4') return address.toString();
  const v6 = address as ipaddr.IPv6;
  // IPv4-compatible (::/96) and NAT64 (64:ff9b::/96) addresses carry an IPv4 address in their last 32 bits.
  if (v6.range() === 'rfc6052' || v6.parts.slice(0, 6).every((part) => part === 0)) return v6.toByteArray().slice(12).join('.');
  return `${new ipaddr.IPv6([...v6.parts.slice(0, 4), 0, 0, 0, 0]).toRFC5952String()}/64`;
}

/** An address as a person reads it: an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as the IPv4 one. */
export function shownIp(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.parse(ip);
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address().toString() : ip;
}

/** What a refresh session records about the device that logged in. */
export const clientOf = (req: Request) => ({ userAgent: req.get('user-agent') ?? '', ip: clientIp(req) });

/** A login's device, and whether the person said it is a shared computer (a session that ends with the browser). */
export interface LoginClient {
  userAgent: string;
  ip: string;
  shared: boolean;
}

/** The login form's `shared` box (`on`), or a JSON login's `"shared": true`. */
export const loginClientOf = (req: Request): LoginClient => {
  const shared: unknown = (req.body as Record<string, unknown> | undefined)?.shared;
  return { ...clientOf(req), shared: shared === true || shared === 'on' || shared === 'true' };
};

/** Aborts when the client hangs up before its response is complete. */
export function clientGone(res: Response): AbortSignal {
  const gone = new AbortController();
  if (res.req.socket.destroyed) gone.abort();
  res.once('close', () => res.writableFinished || gone.abort());
  return gone.signal;
}
