import { createHash } from 'node:crypto';
import type { Redis } from '../config/clients.js';
import type { EndedSessionLog } from './endedSessionLog.js';
import { luaScript } from './luaScript.js';
import { redisCall, StoreUnavailableError } from './storeErrors.js';

// Every key of a user carries the hash tag {userId}: the scripts below touch one cluster slot only. A script
// that ends sessions PUBLISHes their sids in the same step (the channel of models/endedSessionLog.ts), and every
// script that adds or ends one the user's id (models/accountChanges.ts: what instances keep of the account goes).

// KEYS[1] session hash, KEYS[2] the user's index (sid -> last use), KEYS[3] the user's devices (device key -> last
// login), KEYS[4..] the hashes of the sids ARGV[16..]: the session this login replaces (ARGV[11], ended first so that
// it never pushes another device over the cap), then those the caller read from the index. ARGV[5] this session's idle
// limit (a shared computer's is shorter), ARGV[10] the ended-session channel, ARGV[12] the account channel, ARGV[13]
// the device key, ARGV[14] how long a device is remembered, ARGV[15] '1' for a shared computer. Under the cap no other
// session is touched; at the cap the least recently used live ones end, but only when every sid in the index is
// declared: otherwise nothing is written and {'keys', sids} asks the caller to declare them. Returns {'created', the
// sids that ended, 1 when the account has logged in before but not from this device lately}.
const CREATE = luaScript(`
local declared = {}
for i = 4, #KEYS do declared[ARGV[i + 12]] = KEYS[i] end
local cap = tonumber(ARGV[9])
local others = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if sid ~= ARGV[1] and sid ~= ARGV[11] then table.insert(others, sid) end
end
-- At the cap the oldest sessions make room: their keys must be declared (the caller learns them on a first try).
-- Sessions that other logins added meanwhile are the newest and need not be.
local excess = #others + 1 - cap
for i = 1, excess do if not declared[others[i]] then return {'keys', others} end end
local ended = {}
if ARGV[11] ~= '' then
  if redis.call('DEL', declared[ARGV[11]]) == 1 then table.insert(ended, ARGV[11]) end
  redis.call('ZREM', KEYS[2], ARGV[11])
end
local now = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'uid', ARGV[2], 'jti', ARGV[3], 'createdAt', ARGV[4], 'lastUsed', ARGV[4],
  'absExp', ARGV[6], 'ua', ARGV[7], 'ip', ARGV[8], 'confirmedAt', ARGV[4], 'idle', ARGV[5], 'shared', ARGV[15])
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[5]), tonumber(ARGV[6]) - now))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
for i = 1, excess do
  if redis.call('DEL', declared[others[i]]) == 1 then table.insert(ended, others[i]) end
  redis.call('ZREM', KEYS[2], others[i])
end
local ttl = tonumber(ARGV[6]) - now
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[14]))
local newDevice = 0
if redis.call('ZCARD', KEYS[3]) > 0 and not redis.call('ZSCORE', KEYS[3], ARGV[13]) then newDevice = 1 end
redis.call('ZADD', KEYS[3], now, ARGV[13])
redis.call('PEXPIRE', KEYS[3], ARGV[14])
if #ended > 0 then redis.call('PUBLISH', ARGV[10], table.concat(ended, ',')) end
redis.call('PUBLISH', ARGV[12], ARGV[2] .. ' ' .. ARGV[1])
return {'created', ended, newDevice}
`);

// A login that meets the cap declares the sessions it read from the index; when logins of the same user keep
// changing the index in between, it gives up after this many reads.
const CREATE_ATTEMPTS = 5;

// ARGV: presented jti hash, its successor's hash, now, idle ms (of sessions that keep none of their own), grace ms, sid,
// the ended-session channel, the account channel, the user's id. Returns the kind, the absolute deadline and whether
// the session is a shared computer's. The successor is derived from the
// presented jti (jwt.refreshSuccessor), so a retry within the grace window gets the same one again, never a second.
const ROTATE = luaScript(`
local s = redis.call('HMGET', KEYS[1], 'jti', 'prevJti', 'rotatedAt', 'absExp', 'idle', 'shared')
if not s[1] then return {'missing'} end
local now = tonumber(ARGV[3])
if s[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'jti', ARGV[2], 'prevJti', ARGV[1], 'rotatedAt', ARGV[3], 'lastUsed', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.min(tonumber(s[5] or ARGV[4]), tonumber(s[4]) - now))
  redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[6])
  return {'rotated', s[4], s[6] or ''}
end
if s[2] == ARGV[1] and s[1] == ARGV[2] and now - tonumber(s[3]) <= tonumber(ARGV[5]) then return {'grace', s[4], s[6] or ''} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[6])
redis.call('PUBLISH', ARGV[7], ARGV[6])
redis.call('PUBLISH', ARGV[8], ARGV[9])
return {'reused'}
`);

// KEYS[1] the user's index, KEYS[2..] session hashes; ARGV[1] the ended-session channel, ARGV[2] the account channel,
// ARGV[3] the user's id, ARGV[4..] the sids. Only sessions that still existed are announced (a made-up sid must never
// end someone else's access token). Returns those sids.
const END = luaScript(`
local ended = {}
for i = 2, #KEYS do
  if redis.call('DEL', KEYS[i]) == 1 then table.insert(ended, ARGV[i + 2]) end
  redis.call('ZREM', KEYS[1], ARGV[i + 2])
end
if #ended > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(ended, ','))
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return ended
`);

// KEYS[1] a session hash; ARGV: field, value. Writes only into a live session (an HSET would bring an ended one
// back without a TTL). Returns 1, or 0 when the session is gone.
const SET_IF_LIVE = luaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

// KEYS[1] a session hash; ARGV: field, offered value, now, max age ms, a value to give up (one that no longer serves,
// or ''). The value kept in `field` ("<ms> <value>") stays while it is younger than the max age: parallel callers
// agree on the first one offered. Returns the kept value, or nil when the session is gone.
const KEEP = luaScript(`
local s = redis.call('HMGET', KEYS[1], 'uid', ARGV[1])
if not s[1] then return false end
if s[2] then
  local at, value = string.match(s[2], '^(%d+) (.*)$')
  if value and value ~= ARGV[5] and tonumber(ARGV[3]) - tonumber(at) < tonumber(ARGV[4]) then return value end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. ' ' .. ARGV[2])
return ARGV[2]
`);

/** What a session may keep beside its own fields; it ends with the session. */
export type SessionKeepsake = 'totpOffered';

export type RotateOutcome = { kind: 'rotated' | 'grace'; expiresAtMs: number; shared: boolean } | { kind: 'missing' } | { kind: 'reused' };

/** A login to store. `deviceKey` names its device without versions; `shared`: a shared computer's (a short idle limit). */
export interface NewSession {
  userId: string;
  sid: string;
  jti: string;
  expiresAtMs: number;
  userAgent: string;
  ip: string;
  deviceKey: string;
  shared: boolean;
  replaces?: string | undefined;
}

// A device is new to an account when it has not logged in from it for this long.
const DEVICE_KEPT_MS = 30 * 86_400_000;

export interface RefreshSessionOptions {
  keyPrefix: string;
  idleMs: number;
  /** The idle limit of a session logged in with "shared computer" ticked. */
  sharedIdleMs: number;
  reuseGraceMs: number;
  maxPerUser: number;
  endedLog: EndedSessionLog;
  /** Where the scripts announce the user whose sessions changed (models/accountChanges.ts). */
  accountChannel: string;
}

/** A live session as the sessions page shows it. */
export interface SessionInfo {
  sid: string;
  userAgent: string;
  ip: string;
  createdAt: number;
  lastUsedAt: number;
  /** Logged in with "shared computer" ticked. */
  shared: boolean;
}

export type RefreshSessions = ReturnType<typeof createRefreshSessions>;

/** Only a hash of the token id is stored: a copy of Redis does not let anyone refresh. */
const hashJti = (jti: string) => createHash('sha256').update(jti).digest('base64url');

export function createRefreshSessions(redis: Redis, options: RefreshSessionOptions) {
  const { endedLog } = options;
  const sessionPrefix = (userId: string) => `${options.keyPrefix}session:{${userId}}:`;
  const indexKey = (userId: string) => `${options.keyPrefix}sessions:{${userId}}`;
  const devicesKey = (userId: string) => `${options.keyPrefix}devices:{${userId}}`;
  const keys = (userId: string, sid: string) => [sessionPrefix(userId) + sid, indexKey(userId)];
  const sidsOf = (userId: string) => redisCall(() => redis.zRange(indexKey(userId), 0, -1));

  /** Ends these sessions of the user, announces them, and returns the sids that were live. */
  async function end(userId: string, sids: string[]): Promise<string[]> {
    if (sids.length === 0) return [];
    const sessionKeys = sids.map((sid) => sessionPrefix(userId) + sid);
    const ended = (await END(redis, [indexKey(userId), ...sessionKeys], [endedLog.channel, options.accountChannel, userId, ...sids])) as string[];
    await endedLog.record(ended);
    return ended;
  }

  return {
    /** Stores a new login, ending the user's session it `replaces`; beyond the per-user cap the least recently used ends. */
    async create(s: NewSession): Promise<{ newDevice: boolean }> {
      const now = Date.now();
      const idleMs = s.shared ? options.sharedIdleMs : options.idleMs;
      const args = [s.sid, s.userId, hashJti(s.jti), String(now), String(idleMs), String(s.expiresAtMs), s.userAgent.slice(0, 256), s.ip];
      args.push(
        String(options.maxPerUser),
        endedLog.channel,
        s.replaces ?? '',
        options.accountChannel,
        s.deviceKey,
        String(DEVICE_KEPT_MS),
        s.shared ? '1' : '',
      );
      let known: string[] = []; // under the cap the first attempt needs no other session's key: one round trip
      for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        const declared = [...(s.replaces ? [s.replaces] : []), ...known];
        const sessionKeys = [...keys(s.userId, s.sid), devicesKey(s.userId), ...declared.map((sid) => sessionPrefix(s.userId) + sid)];
        const [kind, sids, newDevice] = (await CREATE(redis, sessionKeys, [...args, ...declared])) as [string, string[], number?];
        if (kind === 'created') {
          await endedLog.record(sids);
          return { newDevice: newDevice === 1 };
        }
        known = sids;
      }
      // Parallel logins of one account kept ending its oldest sessions: a busy store, not a bug.
      throw new StoreUnavailableError('redis', new Error('the sessions of one user kept changing during a login'), 'BUSY');
    },

    /** Atomically swaps the current jti for its successor, honouring the grace window and detecting reuse. */
    async rotate(userId: string, sid: string, presentedJti: string, successorJti: string): Promise<RotateOutcome> {
      const now = String(Date.now());
      const args = [hashJti(presentedJti), hashJti(successorJti), now, String(options.idleMs), String(options.reuseGraceMs), sid, endedLog.channel];
      args.push(options.accountChannel, userId);
      const [kind, expiresAt, shared] = (await ROTATE(redis, keys(userId, sid), args)) as [string, string?, string?];
      if (kind === 'rotated' || kind === 'grace') return { kind, expiresAtMs: Number(expiresAt), shared: shared === '1' };
      if (kind === 'missing') return { kind };
      await endedLog.record([sid]);
      return { kind: 'reused' };
    },

    /** Ends one session of the user; false when it was not live. */
    async revoke(userId: string, sid: string): Promise<boolean> {
      return (await end(userId, [sid])).length > 0;
    },

    /** Ends every session of the user but `keep`; returns how many ended. */
    async revokeAll(userId: string, keep?: string): Promise<number> {
      return (
        await end(
          userId,
          (await sidsOf(userId)).filter((sid) => sid !== keep),
        )
      ).length;
    },

    /** Marks the session confirmed ("it's you") now; false when it has ended. */
    async confirm(userId: string, sid: string): Promise<boolean> {
      return (await SET_IF_LIVE(redis, [sessionPrefix(userId) + sid], ['confirmedAt', String(Date.now())])) === 1;
    },

    /** When the session was last confirmed (its login, or a /user/confirm), whether it is a shared computer's, its device; undefined when it has ended. */
    async state(userId: string, sid: string): Promise<{ confirmedAt: number; shared: boolean; userAgent: string } | undefined> {
      const [uid, at, shared, ua] = await redisCall(() => redis.hmGet(sessionPrefix(userId) + sid, ['uid', 'confirmedAt', 'shared', 'ua']));
      return uid ? { confirmedAt: Number(at ?? 0), shared: shared === '1', userAgent: ua ?? '' } : undefined;
    },

    /**
     * Keeps `offered` with the session for at most `maxAgeMs`, unless a younger value is kept already (that one is
     * returned; `replacing` names a kept value to give up). Undefined when the session has ended.
     */
    async keep(
      userId: string,
      sid: string,
      keepsake: SessionKeepsake,
      offered: string,
      { maxAgeMs, replacing = '' }: { maxAgeMs: number; replacing?: string },
    ) {
      const kept = await KEEP(redis, [sessionPrefix(userId) + sid], [keepsake, offered, String(Date.now()), String(maxAgeMs), replacing]);
      return typeof kept === 'string' ? kept : undefined;
    },

    /** The value the session keeps, when younger than `maxAgeMs`. */
    async kept(userId: string, sid: string, keepsake: SessionKeepsake, maxAgeMs: number): Promise<string | undefined> {
      const [stored] = await redisCall(() => redis.hmGet(sessionPrefix(userId) + sid, [keepsake]));
      const match = stored ? /^(\d+) (.*)$/s.exec(stored) : null;
      return match && Date.now() - Number(match[1]) < maxAgeMs ? match[2] : undefined;
    },

    /** Gives up what the session keeps. */
    async forget(userId: string, sid: string, keepsake: SessionKeepsake): Promise<void> {
      await redisCall(() => redis.hDel(sessionPrefix(userId) + sid, keepsake));
    },

    /** Whether the session is live (one EXISTS): asked per request only while the ended-session listener is degraded. */
    async exists(userId: string, sid: string): Promise<boolean> {
      return (await redisCall(() => redis.exists(sessionPrefix(userId) + sid))) === 1;
    },

    /** How many live sessions each user has (the index may still name sessions that expired). */
    async countLive(userIds: string[]): Promise<number[]> {
      const counts = userIds.map(async (userId) => {
        const sids = await redis.zRange(indexKey(userId), 0, -1);
        return sids.length === 0 ? 0 : redis.exists(sids.map((sid) => sessionPrefix(userId) + sid));
      });
      return redisCall(() => Promise.all(counts));
    },

    /** The user's live sessions, most recently used first. */
    async list(userId: string): Promise<SessionInfo[]> {
      const sids = (await sidsOf(userId)).reverse();
      const rows = await redisCall(() => Promise.all(sids.map((sid) => redis.hGetAll(sessionPrefix(userId) + sid))));
      return sids.flatMap((sid, i) => {
        const row = rows[i];
        if (!row.uid) return [];
        return [
          { sid, userAgent: row.ua ?? '', ip: row.ip ?? '', createdAt: Number(row.createdAt), lastUsedAt: Number(row.lastUsed), shared: row.shared === '1' },
        ];
      });
    },
  };
}
