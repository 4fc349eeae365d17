import { randomBytes } from 'node:crypto';
import type { AccessClaims, JwtUtil } from '../utils/jwt.js';
import type { TokenPair } from '../utils/authCookies.js';
import type { RefreshSessions } from '../models/refreshSessions.js';
import { StoreUnavailableError } from '../models/storeErrors.js';
import { deviceKey } from '../utils/device.js';
import type { LoginClient } from '../utils/http.js';
import { HttpError } from '../utils/httpError.js';
import type { EndedSessions } from './endedSessions.js';

/** Who a request belongs to, as the access token says. */
export interface AuthUser {
  id: string;
  name: string;
  sid: string;
  /** The access token's claim: shows the admin link; admin pages check MySQL as well. */
  isAdmin: boolean;
}

export interface IssuedTokens {
  user: AuthUser;
  tokens: TokenPair;
  expiresAtMs: number;
  /** A shared computer's session: its cookies end with the browser. */
  shared: boolean;
  /** A login (not a refresh) from a device the account has not used lately. */
  newDevice?: boolean;
}

export interface CarriedTokens {
  access?: string;
  refresh?: string;
}

/** What jwt_auth concluded: case 1 (`anonymous`), 2 (`user` only), 3 (`user` with `issued`) or 4 (`ended`). */
export type Resumed =
  { kind: 'anonymous' } | { kind: 'ended'; reuse?: AuthUser } | { kind: 'user'; user: AuthUser; issued?: IssuedTokens & { rotation: 'rotated' | 'grace' } };

export type AuthService = ReturnType<typeof createAuthService>;

const ANONYMOUS: Resumed = { kind: 'anonymous' };
const ENDED: Resumed = { kind: 'ended' };

const randomId = () => randomBytes(18).toString('base64url');

export function createAuthService({
  jwt,
  sessions,
  endedSessions,
  refreshTtlMs,
}: {
  jwt: JwtUtil;
  sessions: RefreshSessions;
  endedSessions: EndedSessions;
  refreshTtlMs: number;
}) {
  const accessTokenOf = (user: AuthUser) => jwt.accessSign({ sub: user.id, name: user.name, sid: user.sid, isAdmin: user.isAdmin });

  /** The session a request's tokens name, taken only from a token whose signature checked out. */
  function authenticSession(carried: CarriedTokens): { userId: string; sid: string } | undefined {
    for (const result of [jwt.refreshVerify(carried.refresh), jwt.accessVerify(carried.access)]) {
      if (result.status !== 'invalid') return { userId: result.claims.sub, sid: result.claims.sid };
    }
    return undefined;
  }

  /** Logout: revokes the session that the request's authentic tokens name, and says which it was. */
  async function endSession(carried: CarriedTokens): Promise<{ userId: string; sid: string } | undefined> {
    const session = authenticSession(carried);
    if (session) await sessions.revoke(session.userId, session.sid);
    return session;
  }

  /** Case 3: the access token expired, its signature good; the refresh token may rotate (one Redis round trip). */
  async function refresh(accessClaims: AccessClaims, refreshToken: string | undefined): Promise<Resumed> {
    const refresh = jwt.refreshVerify(refreshToken);
    const sameSession = refresh.status === 'valid' && refresh.claims.sid === accessClaims.sid && refresh.claims.sub === accessClaims.sub;
    if (!sameSession) return ENDED;

    const user = userOf(accessClaims);
    const successor = jwt.refreshSuccessor(refresh.claims.jti);
    const outcome = await sessions.rotate(user.id, user.sid, refresh.claims.jti, successor);
    if (outcome.kind === 'missing') return ENDED;
    if (outcome.kind === 'reused') return { kind: 'ended', reuse: user };
    // Within the grace window the same successor is sent again: a browser that lost the rotating response heals.
    const tokens: TokenPair = {
      access: accessTokenOf(user),
      refresh: jwt.refreshSign({ sub: user.id, sid: user.sid, jti: successor }, outcome.expiresAtMs),
    };
    return { kind: 'user', user, issued: { user, tokens, expiresAtMs: outcome.expiresAtMs, shared: outcome.shared, rotation: outcome.kind } };
  }

  /**
   * Case 2 while the ended-session listener is degraded: the session is asked of Redis (one EXISTS). One found gone
   * is case 4 and remembered; while Redis cannot say, the token keeps working (an outage is never a logout).
   */
  async function stillLive(claims: AccessClaims): Promise<Resumed> {
    try {
      if (!(await sessions.exists(claims.sub, claims.sid))) {
        endedSessions.remember(claims.sid);
        return ENDED;
      }
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
    }
    return { kind: 'user', user: userOf(claims) };
  }

  return {
    endSession,

    /**
     * A login: starts a new session and ends the one the request carried, if any. The user's own carried session
     * ends in the same step (it must not count against the cap); another user's after the start (kept if the
     * start fails).
     */
    async startSession(
      user: { id: string; name: string; isAdmin: boolean },
      carried: CarriedTokens,
      client: LoginClient,
      stillValid?: (session: { sid: string; newDevice: boolean }) => Promise<boolean>,
    ): Promise<IssuedTokens> {
      const sid = randomId();
      const jti = randomId();
      const expiresAtMs = Date.now() + refreshTtlMs;
      const previous = authenticSession(carried);
      const replaces = previous?.userId === user.id ? previous.sid : undefined;
      const { newDevice } = await sessions.create({ userId: user.id, sid, jti, expiresAtMs, ...client, deviceKey: deviceKey(client.userAgent), replaces });
      // A deletion, lock or password change that ended the account's sessions while this login was checking the
      // password missed this one: asked after the create, the account says so, and the session ends again.
      // When asking fails (a store away), the session ends too, and the error that stopped the login goes on.
      const valid = await (stillValid?.({ sid, newDevice }) ?? Promise.resolve(true)).catch(async (err: unknown) => {
        await sessions.revoke(user.id, sid).catch(() => undefined);
        throw err;
      });
      if (!valid) {
        await sessions.revoke(user.id, sid);
        throw new HttpError(401, 'login.failed');
      }
      if (previous && !replaces) await sessions.revoke(previous.userId, previous.sid);
      const authUser: AuthUser = { id: user.id, name: user.name, sid, isAdmin: user.isAdmin };
      const tokens = { access: accessTokenOf(authUser), refresh: jwt.refreshSign({ sub: user.id, sid, jti }, expiresAtMs) };
      return { user: authUser, tokens, expiresAtMs, shared: client.shared, newDevice };
    },

    /**
     * The four cases of jwt_auth. Only case 3 touches Redis, once; an ended session is known from memory, unless the
     * listener that fills it is degraded and Redis answers (then case 2 asks Redis too).
     */
    resume(carried: CarriedTokens): Resumed | Promise<Resumed> {
      if (!carried.access) return ANONYMOUS;
      const access = jwt.accessVerify(carried.access);
      if (access.status === 'valid') {
        if (endedSessions.has(access.claims.sid)) return ENDED;
        if (endedSessions.live || !endedSessions.redisAnswers) return { kind: 'user', user: userOf(access.claims) };
        return stillLive(access.claims);
      }
      if (access.status === 'invalid') return ENDED;
      return refresh(access.claims, carried.refresh);
    },
  };
}

const userOf = (claims: AccessClaims): AuthUser => ({ id: claims.sub, name: claims.name, sid: claims.sid, isAdmin: claims.isAdmin === true });
