import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from '../config/clients.js';
import { luaScript } from './luaScript.js';
import { redisCall } from './storeErrors.js';
import { wrongCodesKey } from './wrongCodes.js';

// A login waiting for its second factor: one hash per waiting login, named by a hash of the random token its
// cookie carries, under the user's {userId} hash tag. Fields: uid, next, pw (a fingerprint of the password hash
// the first step checked), shared ('1' for a shared computer), tries (codes tried so far, counted before each is checked). Beside them, the account's
// counter of wrong codes (models/wrongCodes.ts), which every code tried here counts into.

// KEYS[1] the record, KEYS[2] the account's wrong codes; ARGV: uid, next, pw, ttl ms, the most wrong codes, shared.
// Returns 0 (begun), or the wait in ms while the account's wrong codes are spent.
const BEGIN = luaScript(`
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[5]) then return math.max(1, redis.call('PTTL', KEYS[2])) end
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'next', ARGV[2], 'pw', ARGV[3], 'shared', ARGV[6], 'tries', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
`);

// Counts a code before it is checked, against the waiting login and the account, so parallel guesses from any
// number of networks cannot outrun either limit. ARGV: the most tries, the most wrong codes, their window ms.
// Returns {uid, next, pw, shared}; {} when the waiting login is gone or has no try left; the wait in ms while the account's are spent.
const RESERVE = luaScript(`
local s = redis.call('HMGET', KEYS[1], 'uid', 'next', 'pw', 'tries', 'shared')
if not s[1] or tonumber(s[4]) >= tonumber(ARGV[1]) then return {} end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return math.max(1, redis.call('PTTL', KEYS[2])) end
redis.call('HINCRBY', KEYS[1], 'tries', 1)
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {s[1], s[2], s[3], s[5] or ''}
`);

// How a reserved try ended. ARGV[1]: 'right' takes the waiting login (1 for exactly one caller) and clears the
// account's wrong codes; 'refund' gives the try back to both (an outage); 'wrong' keeps it and ends the waiting
// login when no try is left (0 then). ARGV[2] the most tries.
const SETTLE = luaScript(`
if ARGV[1] == 'right' then redis.call('DEL', KEYS[2]) return redis.call('DEL', KEYS[1]) end
if ARGV[1] == 'refund' and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
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
  /** The first step ticked "shared computer": the session it starts ends with the browser. */
  shared: boolean;
}

/** Names a waiting login: the account and the random token (its cookie carries both, signed). */
export interface WaitingLoginRef {
  userId: string;
  token: string;
}

export type TryOutcome = 'right' | 'wrong' | 'refund';

/** A reserved try: the waiting login; `gone` when it is over; `waitMs` while the account's wrong codes are spent. */
export type ReservedTry = { login: WaitingLogin } | { gone: true } | { waitMs: number };

export interface WaitingLoginOptions {
  keyPrefix: string;
  ttlMs: number;
  /** Codes one waiting login allows. */
  maxTries: number;
  /** Wrong codes one account allows across all its waiting logins and networks, each renewing `wrongCodesWindowMs`. */
  maxWrongCodes: number;
  wrongCodesWindowMs: number;
}

export type WaitingLogins = ReturnType<typeof createWaitingLogins>;

export function createWaitingLogins(redis: Redis, options: WaitingLoginOptions) {
  const keyOf = ({ userId, token }: WaitingLoginRef) =>
    `${options.keyPrefix}waiting-login:{${userId}}:${createHash('sha256').update(token).digest('base64url')}`;
  const keysOf = (ref: WaitingLoginRef) => [keyOf(ref), wrongCodesKey(options.keyPrefix, ref.userId)];

  return {
    /** A new waiting login, or the wait in ms while the account's wrong codes are spent. */
    async begin(login: WaitingLogin): Promise<{ ref: WaitingLoginRef } | { waitMs: number }> {
      const ref = { userId: login.userId, token: randomBytes(24).toString('base64url') };
      const args = [login.userId, login.next, login.passwordFingerprint, String(options.ttlMs), String(options.maxWrongCodes), login.shared ? '1' : ''];
      const waitMs = Number(await BEGIN(redis, keysOf(ref), args));
      return waitMs === 0 ? { ref } : { waitMs };
    },

    async exists(ref: WaitingLoginRef): Promise<boolean> {
      return (await redisCall(() => redis.exists(keyOf(ref)))) === 1;
    },

    /** Counts one try against the waiting login and the account, before the code is checked. */
    async reserveTry(ref: WaitingLoginRef): Promise<ReservedTry> {
      const args = [options.maxTries, options.maxWrongCodes, options.wrongCodesWindowMs].map(String);
      const reply = await RESERVE(redis, keysOf(ref), args);
      if (typeof reply === 'number') return { waitMs: reply };
      const [userId, next, passwordFingerprint, shared] = reply as string[];
      return userId === ref.userId
        ? { login: { userId, next: next ?? '', passwordFingerprint: passwordFingerprint ?? '', shared: shared === '1' } }
        : { gone: true };
    },

    /** Settles a reserved try; false when the waiting login is over after it (or, for `right`, another request took it). */
    async settleTry(ref: WaitingLoginRef, outcome: TryOutcome): Promise<boolean> {
      return (await SETTLE(redis, keysOf(ref), [outcome, String(options.maxTries)])) === 1;
    },
  };
}
