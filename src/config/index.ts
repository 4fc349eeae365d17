import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseDuration } from '../utils/duration.js';

export interface Config {
  isProduction: boolean;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** `host:port` seeds of a Redis Cluster, used instead of redisUrl when set. */
  redisClusterNodes: string[] | undefined;
  /** Prepended to every Redis key, so several sites or test runs can share one Redis. */
  redisKeyPrefix: string;
  secrets: { access: string; refresh: string; cookie: string; totp: string };
  accessTtlMs: number;
  refreshTtlMs: number;
  sessionIdleMs: number;
  /** The idle limit of a login made with "shared computer" ticked (its cookies also end with the browser). */
  sharedSessionIdleMs: number;
  /** How long an account's security activity is kept. */
  activityRetentionMs: number;
  refreshReuseGraceMs: number;
  maxSessionsPerUser: number;
  /** How long a session stays confirmed ("it's you") after its login or a /user/confirm. */
  stepUpMs: number;
  login: { maxFailures: number; failureWindowMs: number; ipMaxFailures: number };
  registerMaxPerIp: number;
  /** Where mail goes (unset: each mail is written to the log), who it is from, and the domain of its Message-IDs. */
  mail: { smtpUrl: string | undefined; from: string; fromDomain: string };
  /** Lifetime of a mailed password reset link. */
  resetTokenTtlMs: number;
  /** Forgotten-password requests per network and hour. */
  resetMaxPerIp: number;
  /** Password hashes computed at once in this process; more wait in a short queue. */
  hashConcurrency: number;
  /** Worker processes (node:cluster); 1 serves from this process itself. */
  webConcurrency: number;
  trustProxy: boolean | number | string;
  /** The origin people use (scheme, host, port), when a proxy in front rewrites Host; POSTs must come from it. */
  publicOrigin: string | undefined;
  logLevel: string;
  /** Things worth a log line at start-up (e.g. throw-away development secrets). */
  warnings: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super('Invalid configuration:\n- ' + problems.join('\n- '));
    this.name = 'ConfigError';
  }
}

export const DEFAULT_DATABASE_URL = 'mysql://login_page@127.0.0.1:3306/login_page';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const DEFAULT_MAIL_FROM = 'login-page <no-reply@localhost>';
const SECRET_NAMES = ['ACCESS_TOKEN_SECRET', 'REFRESH_TOKEN_SECRET', 'COOKIE_SECRET', 'TOTP_ENCRYPTION_KEY'] as const;

type Env = Record<string, string | undefined>;

/** Reads and validates the whole configuration once; throws a ConfigError that lists every problem. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const isProduction = env.NODE_ENV === 'production';

  const duration = (name: string, fallback: string): number => {
    const ms = parseDuration(env[name] || fallback);
    if (ms === undefined) problems.push(`${name} must look like 2s, 15m, 12h or 14d`);
    return ms ?? Number.NaN; // NaN fails no further comparison, so each problem is listed once
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name] || String(fallback);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) problems.push(`${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  const url = (name: string, fallback: string, protocols: string[]): string => {
    const value = env[name] || fallback;
    if (!protocols.includes(safeProtocol(value))) problems.push(`${name} must be a ${protocols.join(' or ')}// URL`);
    return value;
  };

  const secrets = SECRET_NAMES.map((name) => {
    const value = env[name];
    if (value && value.length >= 32) return value;
    if (isProduction) problems.push(`${name} must be set to at least 32 characters in production`);
    else if (value) problems.push(`${name} must be at least 32 characters (or unset in development)`);
    else warnings.push(`${name} is not set: using a random one, so tokens end when the process does`);
    return randomBytes(32).toString('base64url');
  });
  if (new Set(secrets).size !== secrets.length) problems.push(`${SECRET_NAMES.join(', ')} must all differ`);

  const config: Config = {
    isProduction,
    port: integer('PORT', 3000, 0, 65535),
    databaseUrl: url('DATABASE_URL', DEFAULT_DATABASE_URL, ['mysql:']),
    redisUrl: url('REDIS_URL', 'redis://127.0.0.1:6379/0', ['redis:', 'rediss:']),
    redisClusterNodes: parseClusterNodes(env.REDIS_CLUSTER_NODES, problems),
    redisKeyPrefix: keyPrefix(env.REDIS_KEY_PREFIX, problems),
    secrets: { access: secrets[0], refresh: secrets[1], cookie: secrets[2], totp: secrets[3] },
    accessTtlMs: duration('ACCESS_TOKEN_TTL', '10m'),
    refreshTtlMs: duration('REFRESH_TOKEN_TTL', '14d'),
    sessionIdleMs: duration('SESSION_IDLE_TTL', '7d'),
    sharedSessionIdleMs: duration('SHARED_SESSION_IDLE_TTL', '2h'),
    activityRetentionMs: duration('ACTIVITY_RETENTION', '90d'),
    refreshReuseGraceMs: duration('REFRESH_REUSE_GRACE', '10s'),
    maxSessionsPerUser: integer('MAX_SESSIONS_PER_USER', 10, 1, 1000),
    stepUpMs: duration('STEP_UP_TTL', '10m'),
    login: {
      maxFailures: integer('LOGIN_MAX_FAILURES', 5, 1, 1000),
      failureWindowMs: duration('LOGIN_FAILURE_WINDOW', '15m'),
      ipMaxFailures: integer('LOGIN_IP_MAX_FAILURES', 100, 1, 1_000_000),
    },
    registerMaxPerIp: integer('REGISTER_MAX_PER_IP', 10, 1, 1_000_000),
    mail: parseMail(env, problems),
    resetTokenTtlMs: duration('RESET_TOKEN_TTL', '30m'),
    resetMaxPerIp: integer('RESET_MAX_PER_IP', 10, 1, 1_000_000),
    hashConcurrency: integer('HASH_CONCURRENCY', 1, 1, 64),
    webConcurrency: integer('WEB_CONCURRENCY', isProduction ? availableParallelism() : 1, 1, 256),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    publicOrigin: parseOrigin(env.PUBLIC_ORIGIN, problems),
    logLevel: env.LOG_LEVEL || 'info',
    warnings,
  };
  if (!LOG_LEVELS.includes(config.logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  if (config.accessTtlMs < 1000) problems.push('ACCESS_TOKEN_TTL must be at least 1s');
  if (config.refreshTtlMs <= config.accessTtlMs) problems.push('REFRESH_TOKEN_TTL must be longer than ACCESS_TOKEN_TTL');
  if (config.sessionIdleMs < 1000) problems.push('SESSION_IDLE_TTL must be at least 1s');
  if (config.stepUpMs <= 0) problems.push('STEP_UP_TTL must be longer than 0');
  if (config.sharedSessionIdleMs < 1000) problems.push('SHARED_SESSION_IDLE_TTL must be at least 1s');
  if (config.activityRetentionMs < 1000) problems.push('ACTIVITY_RETENTION must be at least 1s');
  if (config.resetTokenTtlMs < 60_000) problems.push('RESET_TOKEN_TTL must be at least 1m');
  if (isProduction && !config.mail.smtpUrl) warnings.push('SMTP_URL is not set: mails are written to the log, not sent');
  // Without it a mail's links take the request's Host header, which a client chooses (reset-link poisoning).
  if (isProduction && !config.publicOrigin) warnings.push("PUBLIC_ORIGIN is not set: links in mails take the request's host name");
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function safeProtocol(value: string): string {
  try {
    return new URL(value).protocol;
  } catch {
    return '';
  }
}

function parseOrigin(raw: string | undefined, problems: string[]): string | undefined {
  if (!raw) return undefined;
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url && ['http:', 'https:'].includes(url.protocol) && url.pathname === '/' && !url.search && !url.hash && !url.username) return url.origin;
  problems.push('PUBLIC_ORIGIN must be an origin such as https://login.example.com (no path)');
  return undefined;
}

/** SMTP_URL (`smtp://`, `smtps://`, optional) and MAIL_FROM (`address` or `Name <address>`). */
function parseMail(env: Env, problems: string[]): Config['mail'] {
  const smtpUrl = env.SMTP_URL || undefined;
  if (smtpUrl && !['smtp:', 'smtps:'].includes(safeProtocol(smtpUrl))) problems.push('SMTP_URL must be an smtp:// or smtps:// URL');
  const from = env.MAIL_FROM || DEFAULT_MAIL_FROM;
  const address = /^(?:[^<>]*<([^<>\s]+)>|([^<>\s]+))$/.exec(from.trim());
  const [, domain] = /^[^@\s]+@([^@\s]+)$/.exec(address?.[1] ?? address?.[2] ?? '') ?? [];
  if (!domain) problems.push('MAIL_FROM must be an address such as no-reply@example.com or "login-page <no-reply@example.com>"');
  return { smtpUrl, from, fromDomain: domain ?? 'localhost' };
}

function keyPrefix(raw: string | undefined, problems: string[]): string {
  if (!raw) return 'lp:';
  if (/^[\w:.-]{1,64}$/.test(raw)) return raw;
  problems.push('REDIS_KEY_PREFIX must be 1 to 64 letters, digits or _ : . -');
  return 'lp:';
}

function parseClusterNodes(raw: string | undefined, problems: string[]): string[] | undefined {
  if (!raw?.trim()) return undefined;
  const seeds = raw.split(',').map((seed) => seed.trim());
  const valid = (seed: string) => /^[^\s:/]+:\d+$/.test(seed) && Number(seed.split(':')[1]) >= 1 && Number(seed.split(':')[1]) <= 65535;
  if (seeds.every(valid)) return seeds;
  problems.push('REDIS_CLUSTER_NODES must be comma-separated host:port seeds, e.g. 10.0.0.1:7000,10.0.0.2:7000');
  return undefined;
}

function parseTrustProxy(raw: string | undefined): boolean | number | string {
  if (!raw || ['off', 'false', '0'].includes(raw)) return false;
  if (raw === 'true') return true;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}
