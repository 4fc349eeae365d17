import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface AccessClaims {
  sub: string;
  name: string;
  sid: string;
  /** Administrators only (the tutorial's claim); pages for them check MySQL as well. */
  isAdmin?: true;
  iat: number;
  exp: number;
}

export interface RefreshClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
}

/** `expired` is only ever returned for a token whose signature checked out. */
export type VerifyResult<T> = { status: 'valid'; claims: T } | { status: 'expired'; claims: T } | { status: 'invalid' };

const ALGORITHM = 'HS256';
const INVALID = { status: 'invalid' } as const;
// Access tokens whose signature checked out, by their exact text: a browser sends the same one for minutes.
const VERIFIED_ACCESS_TOKENS_KEPT = 10_000;

export interface JwtUtil {
  accessSign(claims: { sub: string; name: string; sid: string; isAdmin?: boolean | undefined }): string;
  accessVerify(token: string | undefined): VerifyResult<AccessClaims>;
  refreshSign(claims: { sub: string; sid: string; jti: string }, expiresAtMs: number): string;
  refreshVerify(token: string | undefined): VerifyResult<RefreshClaims>;
  /** The jti that follows `jti` at rotation: only the server can derive it, and derive it again for a retry. */
  refreshSuccessor(jti: string): string;
}

/**
 * The tutorial's four functions. Secrets become KeyObjects once here: jsonwebtoken turns a string
 * secret into a KeyObject on every call, which costs far more than the HMAC itself.
 */
export function createJwtUtil(secrets: { access: string; refresh: string }, accessTtlMs: number): JwtUtil {
  const accessKey = createSecretKey(Buffer.from(secrets.access, 'utf8'));
  const refreshKey = createSecretKey(Buffer.from(secrets.refresh, 'utf8'));
  const accessTtlSec = Math.max(1, Math.round(accessTtlMs / 1000));
  const successorKey = createSecretKey(createHmac('sha256', secrets.refresh).update('login-page refresh successor').digest());

  return {
    accessSign: ({ sub, name, sid, isAdmin }) =>
      jwt.sign({ sub, name, sid, ...(isAdmin ? { isAdmin: true } : {}) }, accessKey, { algorithm: ALGORITHM, expiresIn: accessTtlSec }),
    accessVerify: rememberVerified((token) => verify(token, accessKey, isAccessClaims)),
    refreshSign: ({ sub, sid, jti }, expiresAtMs) => jwt.sign({ sub, sid, jti, exp: Math.floor(expiresAtMs / 1000) }, refreshKey, { algorithm: ALGORITHM }),
    refreshVerify: (token) => verify(token, refreshKey, isRefreshClaims),
    refreshSuccessor: (jti) => createHmac('sha256', successorKey).update(jti).digest('base64url'),
  };
}

function verify<T extends { exp: number }>(
  token: string | undefined,
  key: KeyObject,
  hasClaims: (payload: Record<string, unknown>) => boolean,
): VerifyResult<T> {
  if (typeof token !== 'string' || token.length === 0) return INVALID;
  let payload: unknown;
  try {
    // Expiry is judged below, after the signature and algorithm have been checked here.
    payload = jwt.verify(token, key, { algorithms: [ALGORITHM], ignoreExpiration: true });
  } catch {
    return INVALID;
  }
  if (typeof payload !== 'object' || payload === null || !hasClaims(payload as Record<string, unknown>)) return INVALID;
  const claims = payload as T;
  return { status: claims.exp * 1000 > Date.now() ? 'valid' : 'expired', claims };
}

/**
 * The info page is the hot path: a token seen before is not parsed and HMACed again (the signature is a fact
 * about its bytes), but its expiry is judged on every request. Bounded; the oldest entry goes first.
 */
function rememberVerified(check: (token: string | undefined) => VerifyResult<AccessClaims>) {
  const verified = new Map<string, AccessClaims>();
  return (token: string | undefined): VerifyResult<AccessClaims> => {
    const claims = token === undefined ? undefined : verified.get(token);
    if (claims) return { status: claims.exp * 1000 > Date.now() ? 'valid' : 'expired', claims };
    const result = check(token);
    if (result.status === 'valid') {
      if (verified.size >= VERIFIED_ACCESS_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
      verified.set(token!, result.claims);
    }
    return result;
  };
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isTime = (value: unknown): value is number => Number.isInteger(value);

function isAccessClaims(p: Record<string, unknown>): boolean {
  const adminFlag = p.isAdmin === undefined || p.isAdmin === true;
  return isText(p.sub) && typeof p.name === 'string' && isText(p.sid) && isTime(p.iat) && isTime(p.exp) && p.jti === undefined && adminFlag;
}

function isRefreshClaims(p: Record<string, unknown>): boolean {
  return isText(p.sub) && isText(p.sid) && isText(p.jti) && isTime(p.iat) && isTime(p.exp) && p.name === undefined;
}
