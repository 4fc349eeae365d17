import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../config/clients.js';
import { redisCall } from './storeErrors.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export interface RateLimitOptions {
  keyPrefix: string;
  loginMaxFailures: number;
  loginFailureWindowMs: number;
  loginIpMaxFailures: number;
  registerMaxPerIp: number;
}

export type RateLimits = ReturnType<typeof createRateLimits>;

/** Counters in Redis, so every process of the site shares them. A wait of 0 means "go ahead". */
export function createRateLimits(redis: Redis, options: RateLimitOptions) {
  const limiter = (name: string, points: number, durationMs: number) =>
    new RateLimiterRedis({ storeClient: redis, useRedisPackage: true, keyPrefix: `${options.keyPrefix}rl:${name}`, points, duration: seconds(durationMs) });
  const failuresByIdAndIp = limiter('login-id-ip', options.loginMaxFailures, options.loginFailureWindowMs);
  const failuresByIp = limiter('login-ip', options.loginIpMaxFailures, DAY_MS);
  const registrationsByIp = limiter('register-ip', options.registerMaxPerIp, HOUR_MS);
  // Ids match without regard to case, so their counters do too; unknown ids count like known ones.
  const pairKey = (id: string, ip: string) => `${id.toLowerCase()}|${ip}`;

  /** How long to wait when the counter is used up, else 0. */
  const waitMs = (res: RateLimiterRes | null, points: number) => (res && res.consumedPoints >= points ? res.msBeforeNext : 0);

  return {
    async loginWaitMs(id: string, ip: string): Promise<number> {
      const [pair, byIp] = await redisCall(() => Promise.all([failuresByIdAndIp.get(pairKey(id, ip)), failuresByIp.get(ip)]));
      return Math.max(waitMs(pair, options.loginMaxFailures), waitMs(byIp, options.loginIpMaxFailures));
    },

    async loginFailed(id: string, ip: string): Promise<void> {
      const [pair] = await redisCall(() => Promise.all([spend(failuresByIdAndIp, pairKey(id, ip)), spend(failuresByIp, ip)]));
      // The last allowed failure starts a lock of a whole window.
      if (pair.consumedPoints === options.loginMaxFailures) {
        await redisCall(() => failuresByIdAndIp.block(pairKey(id, ip), seconds(options.loginFailureWindowMs)));
      }
    },

    async loginSucceeded(id: string, ip: string): Promise<void> {
      await redisCall(() => failuresByIdAndIp.delete(pairKey(id, ip)));
    },

    /** Counts a registration attempt; the wait is non-zero once the hour's allowance is spent. */
    async registrationWaitMs(ip: string): Promise<number> {
      const res = await redisCall(() => spend(registrationsByIp, ip));
      return res.consumedPoints > options.registerMaxPerIp ? res.msBeforeNext : 0;
    },
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
