import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../config/clients.js';
import { luaScript } from './luaScript.js';
import { redisCall } from './storeErrors.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
// A person asks for one per passkey login; a script that asks for more is refused, and costs one key per network.
export const PASSKEY_OPTIONS_PER_MINUTE = 30;
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

// A login attempt is counted before its password is checked, so parallel guesses cannot outrun the limits.
// KEYS[1] failures of one (id, network): a counter, each attempt renews its window. KEYS[2] failures of the
// network: a hash of the count `n` and the window `w` it belongs to. Both carry the network's hash tag.
// ARGV: pair limit, pair window ms, network limit, network window ms, a new window's id.
// Returns {0, window, the pair's failures with this one} (go ahead) or {wait ms}.
const RESERVE_LOGIN = luaScript(`
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return {math.max(1, redis.call('PTTL', KEYS[1]))} end
if tonumber(redis.call('HGET', KEYS[2], 'n') or '0') >= tonumber(ARGV[3]) then return {math.max(1, redis.call('PTTL', KEYS[2]))} end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('HINCRBY', KEYS[2], 'n', 1) == 1 then
  redis.call('HSET', KEYS[2], 'w', ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return {0, redis.call('HGET', KEYS[2], 'w'), redis.call('GET', KEYS[1])}
`);

// A reserved attempt that was no failure: a success (ARGV[1] = 'reset') clears the pair, an outage gives its
// point back. The network's point goes back only into the window it was taken from (ARGV[2]).
const RELEASE_LOGIN = luaScript(`
if ARGV[1] == 'reset' then redis.call('DEL', KEYS[1])
elseif tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
if redis.call('HGET', KEYS[2], 'w') == ARGV[2] and tonumber(redis.call('HGET', KEYS[2], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[2], 'n', -1)
end
return 1
`);

/** A reserved login attempt: `window` names the network counter's window it was counted in. */
export type LoginReservation = { waitMs: 0; window: string; failuresLeft: number } | { waitMs: number; window?: undefined };

/** How a reserved attempt ended when it was no failure: a right password, or an outage before the check. */
export type AttemptOutcome = 'succeeded' | 'unchecked';
/** Settles one reserved attempt; an attempt never settled stays counted as a failure. */
export type SettleAttempt = (outcome: AttemptOutcome) => Promise<void>;

export interface RateLimitOptions {
  keyPrefix: string;
  loginMaxFailures: number;
  loginFailureWindowMs: number;
  loginIpMaxFailures: number;
  registerMaxPerIp: number;
  resetMaxPerIp: number;
}

export type RateLimits = ReturnType<typeof createRateLimits>;

/**
 * Counters in Redis, so every process of the site shares them. `network` is the client's address, an IPv6
 * client's /64 (utils/http.ts). A wait of 0 means "go ahead".
 */
export function createRateLimits(redis: Redis, options: RateLimitOptions) {
  /** Requests of one kind per network and window (one small key per network); the wait once they are spent. */
  const perNetwork = (name: string, points: number, windowMs: number) => {
    const limiter = new RateLimiterRedis({
      storeClient: redis,
      useRedisPackage: true,
      keyPrefix: `${options.keyPrefix}rl:${name}`,
      points,
      duration: seconds(windowMs),
    });
    return async (network: string): Promise<number> => {
      const res = await redisCall(() => spend(limiter, network));
      return res.consumedPoints > points ? res.msBeforeNext : 0;
    };
  };
  // Ids match without regard to case, so their counters do too; unknown ids count like known ones.
  const loginKeys = (id: string, network: string) => {
    const tag = `${options.keyPrefix}rl:login:{${network}}`;
    return [`${tag}:id:${id.toLowerCase()}`, `${tag}:ip`];
  };

  return {
    /** The lock a spent (id, network) pair gets: its failure window. */
    loginLockMs: options.loginFailureWindowMs,

    /**
     * Counts a login attempt as failed before its password is checked; the wait is non-zero when a limit is spent,
     * else `failuresLeft` says how many more may fail (after this one) before the pair is locked.
     */
    async reserveLogin(id: string, network: string): Promise<LoginReservation> {
      const args = [options.loginMaxFailures, options.loginFailureWindowMs, options.loginIpMaxFailures, DAY_MS, Date.now()].map(String);
      const [wait, window, failures] = (await RESERVE_LOGIN(redis, loginKeys(id, network), args)) as [number, string?, string?];
      return wait === 0 ? { waitMs: 0, window: window ?? '', failuresLeft: options.loginMaxFailures - Number(failures) } : { waitMs: wait };
    },

    /** The reserved attempt did not fail: `succeeded` resets the pair's count, `unchecked` (an outage) gives the point back. */
    async releaseLogin(id: string, network: string, window: string, outcome: AttemptOutcome): Promise<void> {
      await RELEASE_LOGIN(redis, loginKeys(id, network), [outcome === 'succeeded' ? 'reset' : 'refund', window]);
    },

    /** Counts a registration attempt; the wait is non-zero once the hour's allowance is spent. */
    registrationWaitMs: perNetwork('register-ip', options.registerMaxPerIp, HOUR_MS),

    /** Counts a forgotten-password request (each may send a mail); the wait is non-zero once the hour's allowance is spent. */
    forgotWaitMs: perNetwork('forgot-ip', options.resetMaxPerIp, HOUR_MS),

    /** Counts a request for passkey login options (anonymous work): at most PASSKEY_OPTIONS_PER_MINUTE. */
    passkeyOptionsWaitMs: perNetwork('passkey-options', PASSKEY_OPTIONS_PER_MINUTE, MINUTE_MS),
  };
}

/** Consumes a point; a used-up counter is an answer here, not an error. */
async function spend(limiter: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return rejection;
    throw rejection;
  }
}
