import type { Redis } from '../config/clients.js';
import { redisCall } from './storeErrors.js';

export type EndedSessionLog = ReturnType<typeof createEndedSessionLog>;

/**
 * Where ended sessions are announced: a pub/sub channel (the scripts that delete sessions PUBLISH their sids in
 * the same step) and a sorted set of the last `keepMs` of them (sid by end time), for a process that was not
 * listening. Plain PUBLISH reaches every node of a Redis Cluster; the set is one key of its own.
 */
export function createEndedSessionLog(
  redis: Redis,
  { keyPrefix, keepMs, onError }: { keyPrefix: string; keepMs: number; onError: (err: Error) => void },
) {
  const key = `${keyPrefix}ended-sessions`;
  return {
    channel: `${keyPrefix}ended-sessions`,

    /**
     * Adds sessions that just ended (and were announced). A failure is reported, not thrown: the sessions have
     * ended and every listening process knows; only one that is reconnecting right now could miss them.
     */
    async record(sids: string[]): Promise<void> {
      if (sids.length === 0) return;
      const now = Date.now();
      const members = sids.map((sid) => ({ score: now, value: sid }));
      await redisCall(() => redis.multi().zAdd(key, members).zRemRangeByScore(key, '-inf', now - keepMs).pExpire(key, keepMs).exec()).catch(onError);
    },

    /** The sessions that ended in the last `keepMs`, with when. */
    async recent(): Promise<{ sid: string; endedAt: number }[]> {
      const entries = await redisCall(() => redis.zRangeByScoreWithScores(key, Date.now() - keepMs, '+inf'));
      return entries.map(({ value, score }) => ({ sid: value, endedAt: score }));
    },
  };
}
