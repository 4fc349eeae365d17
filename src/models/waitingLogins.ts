import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from '../config/clients.js';
import { luaScript } from './luaScript.js';
import { redisCall } from './storeErrors.js';

// A login waiting for its second factor: one hash per waiting login, named by a hash of the random token its
// cookie carries, under the user's {userId} hash tag. Fields: uid, next, pw (a fingerprint of the password hash
// the first step checked), tries (codes tried so far, counted before each is checked).

// KEYS[1] the record; ARGV: uid, next, pw, ttl ms.
const BEGIN = luaScript(`
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'next', ARGV[2], 'pw', ARGV[3], 'tries', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`);

// Counts a code before it is checked, so parallel guesses cannot outrun the limit. ARGV[1] the most tries.
// Returns {uid, next, pw}, or {} when the waiting login is gone or has no try left.
const RESERVE = luaScript(`
local s = redis.call('HMGET', KEYS[1], 'uid', 'next', 'pw', 'tries')
if not s[1] or tonumber(s[4]) >= tonumber(ARGV[1]) then return {} end
redis.call('HINCRBY', KEYS[1], 'tries', 1)
return {s[1], s[2], s[3]}
`);

// How a reserved try ended. ARGV[1]: 'right' takes the waiting login (1 for exactly one caller); 'refund' gives the
// try back (an outage); 'wrong' keeps it and ends the waiting login when no try is left (0 then). ARGV[2] the most tries.
const SETTLE = luaScript(`
if ARGV[1] == 'right' then return redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == 'refund' then redis.call('HINCRBY', KEYS[1], 'tries', -1) return 1 end
if tonumber(redis.call('HGET', KEYS[1], 'tries')) >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) return 0 end
return 1
`);

/** What the waiting login remembers of the first step. */
export interface WaitingLogin {
  userId: string;
  next: string;
  /** A fingerprint of the password hash the first step checked: a password change meanwhile ends the waiting login. */
  passwordFingerprint: string;
}

/** Names a waiting login: the account and the random token (its cookie carries both, signed). */
export interface WaitingLoginRef {
  userId: string;
  token: string;
}

export type TryOutcome = 'right' | 'wrong' | 'refund';

export type WaitingLogins = ReturnType<typeof createWaitingLogins>;

export function createWaitingLogins(redis: Redis, options: { keyPrefix: string; ttlMs: number; maxTries: number }) {
  const keyOf = ({ userId, token }: WaitingLoginRef) =>
    `${options.keyPrefix}waiting-login:{${userId}}:${createHash('sha256').update(token).digest('base64url')}`;

  return {
    async begin(login: WaitingLogin): Promise<WaitingLoginRef> {
      const ref = { userId: login.userId, token: randomBytes(24).toString('base64url') };
      await BEGIN(redis, [keyOf(ref)], [login.userId, login.next, login.passwordFingerprint, String(options.ttlMs)]);
      return ref;
    },

    async exists(ref: WaitingLoginRef): Promise<boolean> {
      return (await redisCall(() => redis.exists(keyOf(ref)))) === 1;
    },

    /** Counts one try; undefined when the waiting login is over (expired, finished, or out of tries). */
    async reserveTry(ref: WaitingLoginRef): Promise<WaitingLogin | undefined> {
      const [userId, next, passwordFingerprint] = (await RESERVE(redis, [keyOf(ref)], [String(options.maxTries)])) as string[];
      return userId === ref.userId ? { userId, next: next ?? '', passwordFingerprint: passwordFingerprint ?? '' } : undefined;
    },

    /** Settles a reserved try; false when the waiting login is over after it (or, for `right`, another request took it). */
    async settleTry(ref: WaitingLoginRef, outcome: TryOutcome): Promise<boolean> {
      return (await SETTLE(redis, [keyOf(ref)], [outcome, String(options.maxTries)])) === 1;
    },
  };
}
