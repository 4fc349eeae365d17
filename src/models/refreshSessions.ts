import { createHash } from 'node:crypto';
import type { Redis } from '../config/clients.js';
import { luaScript } from './luaScript.js';
import { redisCall } from './storeErrors.js';

// Every key of a user carries the hash tag {userId}: the scripts below touch one cluster slot only.
// KEYS[1] session hash, KEYS[2] the user's index (sid -> last use); ARGV[10] prefix of the user's session keys.
const CREATE = luaScript(`
redis.call('HSET', KEYS[1], 'uid', ARGV[2], 'jti', ARGV[3], 'createdAt', ARGV[4], 'lastUsed', ARGV[4],
  'absExp', ARGV[6], 'ua', ARGV[7], 'ip', ARGV[8])
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[5]), tonumber(ARGV[6]) - tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local sids = redis.call('ZRANGE', KEYS[2], 0, -1)
local live = {}
for _, sid in ipairs(sids) do
  if redis.call('EXISTS', ARGV[10] .. sid) == 1 then table.insert(live, sid) else redis.call('ZREM', KEYS[2], sid) end
end
local excess = #live - tonumber(ARGV[9])
for _, sid in ipairs(live) do
  if excess <= 0 then break end
  if sid ~= ARGV[1] then
    redis.call('DEL', ARGV[10] .. sid)
    redis.call('ZREM', KEYS[2], sid)
    excess = excess - 1
  end
end
local ttl = tonumber(ARGV[6]) - tonumber(ARGV[4])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`);

// ARGV: presented jti hash, its successor's hash, now, idle ms, grace ms, sid. The successor is derived from the
// presented jti (jwt.refreshSuccessor), so a retry within the grace window gets the same one again, never a second.
const ROTATE = luaScript(`
local s = redis.call('HMGET', KEYS[1], 'jti', 'prevJti', 'rotatedAt', 'absExp')
if not s[1] then return {'missing'} end
local now = tonumber(ARGV[3])
if s[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'jti', ARGV[2], 'prevJti', ARGV[1], 'rotatedAt', ARGV[3], 'lastUsed', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[4]), tonumber(s[4]) - now))
  redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[6])
  return {'rotated', s[4]}
end
if s[2] == ARGV[1] and s[1] == ARGV[2] and now - tonumber(s[3]) <= tonumber(ARGV[5]) then return {'grace', s[4]} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[6])
return {'reused'}
`);

export type RotateOutcome =
  | { kind: 'rotated'; expiresAtMs: number }
  | { kind: 'grace'; expiresAtMs: number }
  | { kind: 'missing' }
  | { kind: 'reused' };

export interface RefreshSessionOptions {
  keyPrefix: string;
  idleMs: number;
  reuseGraceMs: number;
  maxPerUser: number;
}

export type RefreshSessions = ReturnType<typeof createRefreshSessions>;

/** Only a hash of the token id is stored: a copy of Redis does not let anyone refresh. */
const hashJti = (jti: string) => createHash('sha256').update(jti).digest('base64url');

export function createRefreshSessions(redis: Redis, options: RefreshSessionOptions) {
  const sessionPrefix = (userId: string) => `${options.keyPrefix}session:{${userId}}:`;
  const indexKey = (userId: string) => `${options.keyPrefix}sessions:{${userId}}`;
  const keys = (userId: string, sid: string) => [sessionPrefix(userId) + sid, indexKey(userId)];

  return {
    /** Stores a new login; beyond the per-user cap the least recently used session ends. */
    async create(s: { userId: string; sid: string; jti: string; expiresAtMs: number; userAgent: string; ip: string }) {
      const now = Date.now();
      await CREATE(redis, keys(s.userId, s.sid), [
        s.sid,
        s.userId,
        hashJti(s.jti),
        String(now),
        String(options.idleMs),
        String(s.expiresAtMs),
        s.userAgent.slice(0, 256),
        s.ip,
        String(options.maxPerUser),
        sessionPrefix(s.userId),
      ]);
    },

    /** Atomically swaps the current jti for its successor, honouring the grace window and detecting reuse. */
    async rotate(userId: string, sid: string, presentedJti: string, successorJti: string): Promise<RotateOutcome> {
      const args = [hashJti(presentedJti), hashJti(successorJti), String(Date.now()), String(options.idleMs), String(options.reuseGraceMs), sid];
      const [kind, expiresAt] = (await ROTATE(redis, keys(userId, sid), args)) as [string, string?];
      if (kind === 'rotated' || kind === 'grace') return { kind, expiresAtMs: Number(expiresAt) };
      return { kind: kind === 'reused' ? 'reused' : 'missing' };
    },

    async revoke(userId: string, sid: string): Promise<void> {
      const [sessionKey, index] = keys(userId, sid);
      await redisCall(() => redis.multi().del(sessionKey).zRem(index, sid).exec());
    },
  };
}
