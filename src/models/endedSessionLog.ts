import type { Redis } from '../config/clients.js';
import { luaScript } from './luaScript.js';
import { redisCall } from './storeErrors.js';

// KEYS[1] the log; ARGV[1] now, ARGV[2] keep ms, ARGV[3..] sids. One key, one step (a MULTI's typing differs
// between a client and a cluster; a script runs on either).
const RECORD = luaScript(`
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

// A failed record is tried again this often, for at most this long (a Redis Cluster failover takes seconds).
const RECORD_RETRY_MS = 1000;
const RECORD_RETRY_FOR_MS = 60_000;

async function retry(write: () => Promise<unknown>, giveUpAt: number): Promise<void> {
  while (Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS).unref());
    if (
      await write().then(
        () => true,
        () => false,
      )
    )
      return;
  }
}

export type EndedSessionLog = ReturnType<typeof createEndedSessionLog>;

/**
 * Where ended sessions are announced: a pub/sub channel (the scripts that delete sessions PUBLISH their sids in
 * the same step) and a sorted set of the last `keepMs` of them (sid by end time), for a process that was not
 * listening. Plain PUBLISH reaches every node of a Redis Cluster; the set is one key of its own.
 */
export function createEndedSessionLog(redis: Redis, { keyPrefix, keepMs, onError }: { keyPrefix: string; keepMs: number; onError: (err: Error) => void }) {
  const key = `${keyPrefix}ended-sessions`;
  return {
    channel: `${keyPrefix}ended-sessions`,

    /**
     * Adds sessions that just ended (and were announced). A failure is reported, not thrown: the sessions have
     * ended and every listening process knows; only one that is reconnecting right now could miss them, so the
     * write is tried again in the background (the log's node may be failing over) for a while.
     */
    async record(sids: string[]): Promise<void> {
      if (sids.length === 0) return;
      const endedAt = Date.now();
      const write = () => RECORD(redis, [key], [String(endedAt), String(keepMs), ...sids]);
      try {
        await write();
      } catch (err) {
        onError(err as Error);
        void retry(write, endedAt + Math.min(keepMs, RECORD_RETRY_FOR_MS));
      }
    },

    /** The sessions that ended in the last `keepMs`, with when. */
    async recent(): Promise<{ sid: string; endedAt: number }[]> {
      const entries = await redisCall(() => redis.zRangeByScoreWithScores(key, Date.now() - keepMs, '+inf'));
      return entries.map(({ value, score }) => ({ sid: value, endedAt: score }));
    },
  };
}
