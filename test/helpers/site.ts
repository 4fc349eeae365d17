import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import type { Response } from 'supertest';
import { expect } from 'chai';
import type { Logger } from 'pino';
import { createApp, type AppDeps } from '../../app.js';
import type { Db, Redis, RedisClient, Subscriber } from '../../src/config/clients.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { translators } from '../../src/config/locales.js';
import { isLang } from '../../src/utils/i18n.js';
import { redisKeyPrefix, testStores, testSubscriber } from './stores.js';
import { until } from './until.js';

export const SECRETS = {
  ACCESS_TOKEN_SECRET: 'test-access-secret-0123456789abcdef',
  REFRESH_TOKEN_SECRET: 'test-refresh-secret-0123456789abcdef',
  COOKIE_SECRET: 'test-cookie-secret-0123456789abcdef',
  TOTP_ENCRYPTION_KEY: 'test-totp-encryption-key-0123456789abcdef',
};

// Every test request comes from one IP: the per-IP limits are raised unless a test sets them.
const LOOSE_LIMITS = { REGISTER_MAX_PER_IP: '1000000', LOGIN_IP_MAX_FAILURES: '1000000', RESET_MAX_PER_IP: '1000000' };

export type App = ReturnType<typeof createApp>;

/**
 * A site on the run's real stores (or those given, e.g. a cluster), listening on a connection of its own unless one
 * is given; `env` takes the contract's variables (e.g. REFRESH_REUSE_GRACE). Resolves once its ended-session
 * listener is live, as a deployment waits for /readyz (at once while its Redis is down). It runs no mail sender: a
 * test of delivery starts one (helpers/mail.ts) and passes its nudge.
 */
export async function makeSite<R extends Redis = RedisClient>(
  env: Record<string, string> = {},
  stores: Partial<{ db: Db; redis: R; subscriber: Subscriber }> = {},
  logger?: Logger,
  { nudgeMail }: Pick<AppDeps, 'nudgeMail'> = {},
) {
  const config: Config = { ...loadConfig({ ...SECRETS, ...LOOSE_LIMITS, ...env }), redisKeyPrefix };
  const { db, redis } = { ...(await testStores()), ...stores };
  const app = createApp({ config, db, redis, subscriber: stores.subscriber ?? testSubscriber(), logger, nudgeMail });
  await untilListening(app);
  formTokens.set(app, await fetchFormToken(app));
  return { app, config, db, redis };
}

const untilListening = (app: App) =>
  until(async () => {
    const { body } = await request(app).get('/readyz');
    return body.listener === 'live' || !body.redis;
  }, "the site's ended-session listener live (is its subscriber on the site's Redis?)");

const formTokens = new WeakMap<App, { cookie: string; token: string }>();

/** What a browser gets from a form page: the CSRF cookie and the hidden field's token. */
export async function fetchFormToken(app: App): Promise<{ cookie: string; token: string }> {
  const page = await request(app).get('/user/login');
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  expect(token, 'the login form carries a CSRF token').to.be.a('string');
  const [name, csrf] = Object.entries(setCookies(page)).find(([cookieName]) => cookieName.endsWith('csrf'))!;
  return { cookie: `${name}=${encodeURIComponent(csrf.value)}`, token: token! };
}

/** A form POST as the site's own page sends it: with the CSRF cookie and token, and any other cookies given. */
export function postTo(app: App, path: string, cookie?: string): request.Test {
  const csrf = formTokens.get(app);
  if (!csrf) throw new Error('makeSite() fetches the form token first');
  return request(app).post(path).set('Cookie', [csrf.cookie, cookie].filter(Boolean).join('; ')).set('x-csrf-token', csrf.token).type('form');
}

export const uniqueId = (): string => `u_${randomBytes(6).toString('hex')}`;
export const PASSWORD = 'correct horse battery staple';

export async function register(app: App, fields: { id: string; name?: string; password?: string }): Promise<void> {
  const password = fields.password ?? PASSWORD;
  const res = await postTo(app, '/user/register').send({ id: fields.id, name: fields.name ?? 'Tester', password, confirmPassword: password });
  expect(res.status, res.text).to.equal(303);
}

export interface SetCookie {
  value: string;
  attributes: string;
}

/** The Set-Cookie headers of a response, by cookie name. */
export function setCookies(res: { headers: Record<string, unknown> }): Record<string, SetCookie> {
  const headers = (res.headers['set-cookie'] ?? []) as unknown as string[];
  return Object.fromEntries(
    headers.map((header) => {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      return [pair.slice(0, eq), { value: decodeURIComponent(pair.slice(eq + 1)), attributes: attributes.join(';').trim() }];
    }),
  );
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export async function login(app: App, id: string, password = PASSWORD, cookie?: string): Promise<Tokens> {
  const res = await postTo(app, '/user/login', cookie).send({ id, password });
  expect(res.status, res.text).to.equal(303);
  const cookies = setCookies(res);
  return { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value };
}

/** A registered and logged-in user. */
export async function loggedInUser(app: App, name = 'Tester') {
  const id = uniqueId();
  await register(app, { id, name });
  return { id, name, ...(await login(app, id)) };
}

export const cookieHeader = (tokens: Partial<Tokens>): string =>
  Object.entries(tokens)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

/** The same claims, signed with the right key, but expired a minute ago: an authentic, expired access token. */
export function expire(accessToken: string): string {
  const claims = jwt.decode(accessToken) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ ...claims, iat: now - 120, exp: now - 60 }, SECRETS.ACCESS_TOKEN_SECRET, { algorithm: 'HS256' });
}

export const getInfo = (app: App, tokens: Partial<Tokens>) => request(app).get('/user/info').set('Cookie', cookieHeader(tokens));

/** Logged in: the page greets the person by name (`{name}님` in Korean) in the language it declares. */
export function isLoggedIn(res: Pick<Response, 'text'>, name = 'Tester'): boolean {
  const lang = /<html lang="(\w+)">/.exec(res.text)?.[1];
  return isLang(lang) && res.text.includes(translators[lang]('info.greeting', { name }));
}

/** Polls until `site` refuses the access token; resolves with how long that took. */
export async function refusedWithin(site: App, tokens: Pick<Tokens, 'accessToken'>, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (!isLoggedIn(await getInfo(site, { accessToken: tokens.accessToken }))) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the access token still worked after ${limitMs} ms`);
}
