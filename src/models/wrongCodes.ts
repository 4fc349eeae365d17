import type { Redis } from '../config/clients.js';
import { luaScript } from './luaScript.js';

// An account's wrong second-factor codes across every place that checks one (the login's code step, confirming
// it's you, turning TOTP off, the password change and the deletion) and every network: a counter under the
// user's {userId} hash tag, each counted code renewing its window.

/** The counter's key; the waiting logins' scripts count into it too. */
export const wrongCodesKey = (keyPrefix: string, userId: string): string => `${keyPrefix}wrong-codes:{${userId}}`;

// KEYS[1] the counter; ARGV: the most wrong codes, their window ms. Counts a code before it is checked, so parallel
// guesses cannot outrun the limit. Returns 0 (go ahead), or the wait in ms while they are spent.
const RESERVE = luaScript(`
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return math.max(1, redis.call('PTTL', KEYS[1])) end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`);

// KEYS[1] the counter; ARGV[1]: 'right' clears it (as the login's right code does), 'refund' gives the code back (an
// outage checked nothing).
const SETTLE = luaScript(`
if ARGV[1] == 'right' then return redis.call('DEL', KEYS[1]) end
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
`);

export type WrongCodes = ReturnType<typeof createWrongCodes>;

export function createWrongCodes(redis: Redis, { keyPrefix, maxWrongCodes, windowMs }: { keyPrefix: string; maxWrongCodes: number; windowMs: number }) {
  const keysOf = (userId: string) => [wrongCodesKey(keyPrefix, userId)];
  return {
    /** The limit, for the waiting logins' scripts that count into the same counter. */
    limits: { maxWrongCodes, windowMs },

    /** Counts one code as wrong before it is checked; the wait in ms (non-zero) when the account's are spent. */
    async reserve(userId: string): Promise<number> {
      return Number(await RESERVE(redis, keysOf(userId), [String(maxWrongCodes), String(windowMs)]));
    },

    /** The reserved code was no wrong one: right (the count starts again) or unchecked (given back). A wrong one needs no call. */
    async settle(userId: string, outcome: 'right' | 'refund'): Promise<void> {
      await SETTLE(redis, keysOf(userId), [outcome]);
    },
  };
}
