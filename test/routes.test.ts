import { randomInt } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import PQueue from 'p-queue';
import { pino } from 'pino';
import request from 'supertest';
import { readCatalogue } from '../src/config/locales.js';
import { createPasskeyModel } from '../src/models/passkeys.js';
import { createUserModel, type UserModel } from '../src/models/user.js';
import type { Db, RedisClient } from '../src/config/clients.js';
import { LANGUAGES, type Lang } from '../src/utils/i18n.js';
import { en, ko } from './helpers/i18n.js';
import {
  cookieHeader,
  expire,
  fetchFormToken,
  getInfo,
  isLoggedIn,
  login,
  makeSite,
  PASSWORD,
  register,
  setCookies,
  uniqueId,
  type App,
  type Tokens,
} from './helpers/site.js';
import { appRoutes, postRoutes } from './helpers/routes.js';
import { redisKeyPrefix } from './helpers/stores.js';

// The contract's POST routes known when this test was written: the walk must find at least these.
const KNOWN_POSTS = [
  '/user/register',
  '/user/login',
  '/user/login/2fa',
  '/user/logout',
  '/user/sessions/revoke',
  '/user/sessions/revoke-others',
  '/user/password',
  '/user/delete',
  '/user/2fa/enable',
  '/user/2fa/disable',
  '/user/passkeys/options',
  '/user/passkeys',
  '/user/passkeys/remove',
  '/user/login/passkey/options',
  '/user/login/passkey',
  '/admin/users/:id/lock',
  '/admin/users/:id/unlock',
  '/admin/users/:id/revoke-sessions',
  '/user/email',
  '/user/email/remove',
  '/user/forgot',
  '/user/reset',
  '/admin/users/:id/reset-link',
  '/admin/users/:id/reset-second-factor',
  '/admin/users/:id/delete',
];

// Every field a form or JSON client of the site may send (the CSRF token aside).
const PLAUSIBLE_FIELDS = [
  'id',
  'name',
  'password',
  'confirmPassword',
  'currentPassword',
  'code',
  'sid',
  'credentialId',
  'email',
  'response',
  'next',
  'login',
  'token',
  'shared',
];
const everyField = (value: unknown) => Object.fromEntries(PLAUSIBLE_FIELDS.map((name) => [name, value]));

/** A body as sent: its content type and content, or none at all. */
interface Body {
  type?: 'form' | 'json';
  content?: string | object;
}
const ODD_BODIES: Record<string, Body> = {
  'no body at all': {},
  'an empty form': { type: 'form', content: '' },
  'an empty JSON object': { type: 'json', content: {} },
  'a JSON array': { type: 'json', content: [] },
  'every field a JSON array': { type: 'json', content: everyField(['x', 'y']) },
  'every field a JSON object': { type: 'json', content: everyField({ x: 'y' }) },
  'every field twice in a form': { type: 'form', content: `a=1&a=2&${PLAUSIBLE_FIELDS.map((name) => `${name}=1&${name}=2`).join('&')}` },
};
const ACCEPTS = { JSON: 'application/json', HTML: 'text/html' } as const;
type Accept = keyof typeof ACCEPTS;

type Role = 'anonymous' | 'user' | 'administrator';
/** Administrators walk the routes under /admin; anonymous visitors and users walk them all. */
const rolesFor = (path: string): Role[] => (path.startsWith('/admin/') ? ['anonymous', 'user', 'administrator'] : ['anonymous', 'user']);
/** Whether `role` gets past the route's own gate (login, administrator), so that only the CSRF check can refuse it. */
const reaches = (role: Role, path: string) => role === 'administrator' || !path.startsWith('/admin/');

/** Each catalogue's messages as patterns (placeholders match anything): a JSON `msg` must be one of its language's. */
const MESSAGES = Object.fromEntries(
  LANGUAGES.map((lang) => [
    lang,
    Object.values(readCatalogue(lang)).map((text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{\w+\\\}/g, '.+')}$`)),
  ]),
) as Record<Lang, RegExp[]>;
const speaks = (lang: Lang, msg: unknown) => typeof msg === 'string' && MESSAGES[lang].some((pattern) => pattern.test(msg));

const T = { ko, en };
const STACK_TRACE = /\n\s+at |node_modules|TypeError|SyntaxError/;
const sidOf = (tokens: Pick<Tokens, 'accessToken'>) => (jwt.decode(tokens.accessToken) as { sid: string }).sid;
/** A made-up client network (the site trusts X-Forwarded-For here): the walk's failures count nowhere else. */
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

interface Answer {
  label: string;
  role: Role;
  path: string;
  lang: Lang;
  accept: Accept;
  res: request.Response;
}

describe('every POST route, read from the router', function () {
  this.timeout(120_000);
  let app: App;
  let db: Db;
  let redis: RedisClient;
  let users: UserModel;
  let routes: string[];
  const errorLines: string[] = [];
  // A few hundred requests, ten at a time.
  const queue = new PQueue({ concurrency: 10 });

  /** An account made through the site, logged in; an administrator when asked (who then logs in again). */
  async function account(isAdmin = false) {
    const id = uniqueId();
    await register(app, { id });
    if (isAdmin) await users.setAdmin(id, true);
    return { id, ...(await login(app, id)) };
  }

  before(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => (errorLines.push(String(chunk)), done()) });
    ({ app, db, redis } = await makeSite({ TRUST_PROXY: 'true', HASH_CONCURRENCY: '4' }, {}, pino({ level: 'error' }, sink)));
    users = createUserModel(db);
    routes = postRoutes(app);
  });

  it("finds every POST route of the contract known today (and no other method's)", () => {
    expect(routes).to.include.members(KNOWN_POSTS);
    const gets = appRoutes(app).filter(({ method }) => method === 'GET');
    expect(gets.map(({ path }) => path)).to.include.members(['/user/info', '/admin/users', '/healthz']);
    expect(routes).not.to.include('/user/info');
  });

  describe('odd bodies', () => {
    const answers: Answer[] = [];
    /** Each role's cookies of a login made after the walk. */
    let fresh: Record<Role, string>;

    before(async () => {
      const csrf = await fetchFormToken(app);
      const user = await account();
      const admin = await account(true);
      const ip = someIp();
      // Routes one after another, each with fresh logins (a logout or "end other sessions" ends the last route's) and
      // an account of its own to act on (a deletion must not take away the page another route's answer links to).
      for (const route of routes) {
        const target = await account();
        const path = route.replace(/:\w+/g, target.id);
        const cookies: Record<Role, string> = {
          anonymous: '',
          user: cookieHeader(await login(app, user.id)),
          administrator: path.startsWith('/admin/') ? cookieHeader(await login(app, admin.id)) : '',
        };
        const sends = rolesFor(route).flatMap((role) =>
          Object.entries(ODD_BODIES).flatMap(([body, { type, content }], i) =>
            (Object.keys(ACCEPTS) as Accept[]).map((accept) => async () => {
              const lang: Lang = i % 2 === 0 ? 'ko' : 'en';
              let req = request(app)
                .post(path)
                .set('Cookie', [csrf.cookie, cookies[role], `lang=${lang}`].filter(Boolean).join('; '))
                .set('x-csrf-token', csrf.token)
                .set('X-Forwarded-For', ip)
                .set('Accept', ACCEPTS[accept]);
              if (type) req = req.type(type).send(content);
              answers.push({ label: `POST ${route} as ${role}, ${body}, ${accept}`, role, path, lang, accept, res: await req });
            }),
          ),
        );
        await queue.addAll(sends);
      }
      fresh = { anonymous: '', user: cookieHeader(await login(app, user.id)), administrator: cookieHeader(await login(app, admin.id)) };
    });

    it('never a 500 (JSON or page), no stack trace in the answer, and none in the log', () => {
      expect(answers.length, 'requests made').to.equal(routes.reduce((sum, route) => sum + rolesFor(route).length, 0) * Object.keys(ODD_BODIES).length * 2);
      const failed = answers.filter(({ res }) => res.status >= 500 || STACK_TRACE.test(res.text ?? '')).map(({ label, res }) => `${label}: ${res.status}`);
      expect(failed).to.deep.equal([]);
      expect(errorLines).to.deep.equal([]);
    });

    it("a refusal is a 4xx: in JSON `success: false` with a msg in the person's language, as a page in that language", () => {
      const wrong = answers.flatMap(({ label, lang, accept, res }) => {
        if (res.status < 400) return [];
        if (accept === 'JSON') return res.body?.success === false && speaks(lang, res.body.msg) ? [] : [`${label}: ${res.status} ${res.text}`];
        return res.text.includes(`<html lang="${lang}">`) ? [] : [`${label}: ${res.status}, not a page in ${lang}`];
      });
      expect(wrong).to.deep.equal([]);
    });

    it("reached each route's own handlers: none stopped at the CSRF check (a valid token) or asked to confirm (a fresh login)", () => {
      const stopped = answers.flatMap(({ label, lang, res }) => {
        const csrf = res.body?.msg === T[lang]('csrf.refused') || res.text?.includes(T[lang]('csrf.refused'));
        const confirm = res.body?.stepUp === true || /^\/user\/confirm/.test(res.headers.location ?? '');
        return csrf || confirm ? [`${label}: ${res.status} ${res.headers.location ?? res.body?.msg ?? ''}`] : [];
      });
      expect(stopped).to.deep.equal([]);
      expect(answers.filter(({ res }) => res.status === 400).length, 'refused for their fields').to.be.above(50);
    });

    it('a page that answers a POST links to a GET page in the other language that exists', async () => {
      // Each language link the walk's pages showed, followed by the same role (a fresh login).
      const links = new Map<string, { role: Role; url: string }>();
      for (const { role, path, res } of answers) {
        const href = /<a class="lang-switch" href="([^"]+)"/.exec(res.text ?? '')?.[1];
        const url = href && new URL(href.replace(/&amp;/g, '&'), `http://site${path}`);
        if (url) links.set(`${role} ${url.pathname}${url.search}`, { role, url: `${url.pathname}${url.search}` });
      }
      expect(links.size).to.be.above(0);
      const missing: string[] = [];
      for (const [label, { role, url }] of links) {
        if ((await request(app).get(url).set('Cookie', fresh[role])).status === 404) missing.push(label);
      }
      expect(missing).to.deep.equal([]);
    });
  });

  describe('CSRF and cross-site posts', () => {
    it('without the token, with another browser’s, from another origin or cross-site: 403 on every route, and nothing changed', async () => {
      const own = await fetchFormToken(app);
      const foreign = await fetchFormToken(app);
      const user = await account();
      const other = await login(app, user.id);
      const admin = await account(true);
      const target = await account();
      const sessionsOf = async (tokens: Tokens) =>
        ((await request(app).get('/user/sessions').set('Cookie', cookieHeader(tokens)).set('Accept', 'application/json')).body.sessions ?? [])
          .map((session: { sid: string }) => session.sid)
          .sort();
      const sessionsBefore = await sessionsOf(user);
      expect(sessionsBefore).to.have.length(2);
      // What would change something on each route, were the checks not there.
      const tempting = {
        id: user.id,
        login: user.id,
        name: 'Changed',
        password: PASSWORD,
        currentPassword: PASSWORD,
        confirmPassword: PASSWORD,
        sid: sidOf(other),
        code: '123456',
        next: '/user/info',
      };
      const failures: Record<string, { token?: string; header?: [string, string] }> = {
        'without the token': {},
        "with another browser's token": { token: foreign.token },
        'from another origin': { token: own.token, header: ['Origin', 'https://evil.example'] },
        'cross-site': { token: own.token, header: ['Sec-Fetch-Site', 'cross-site'] },
      };
      const cookies: Record<Role, string> = { anonymous: '', user: cookieHeader(user), administrator: cookieHeader(admin) };
      const answers: Omit<Answer, 'lang'>[] = [];
      const sends = routes.flatMap((route) =>
        rolesFor(route).flatMap((role) =>
          Object.entries(failures).flatMap(([failure, { token, header }]) =>
            (Object.keys(ACCEPTS) as Accept[]).map((accept) => async () => {
              const path = route.replace(/:\w+/g, target.id);
              let req = request(app)
                .post(path)
                .set('Cookie', [own.cookie, cookies[role]].filter(Boolean).join('; '))
                .set('X-Forwarded-For', someIp())
                .set('Accept', ACCEPTS[accept]);
              if (header) req = req.set(...header);
              // As the site's forms send the token (a field), and as its scripts do (a header).
              if (accept === 'JSON') req = (token ? req.set('x-csrf-token', token) : req).type('json').send(tempting);
              else req = req.type('form').send(token ? { ...tempting, _csrf: token } : tempting);
              answers.push({ label: `POST ${route} as ${role} ${failure}, ${accept}`, role, path: route, accept, res: await req });
            }),
          ),
        ),
      );
      await queue.addAll(sends);

      const notRefused = answers.flatMap(({ label, role, path, accept, res }) => {
        const cookiesSet = Object.entries(setCookies(res)).filter(([name, { value }]) => /Token$|waitingLogin/.test(name) && value !== '');
        if (cookiesSet.length > 0) return [`${label}: set ${cookiesSet.map(([name]) => name).join(', ')}`];
        if (!reaches(role, path)) return res.status === 401 || res.status === 403 || res.headers.location === '/user/login' ? [] : [`${label}: ${res.status}`];
        const said = accept === 'JSON' ? res.body?.msg === ko('csrf.refused') && res.body.success === false : res.text.includes(ko('csrf.refused'));
        return res.status === 403 && said ? [] : [`${label}: ${res.status} ${res.headers.location ?? ''}`];
      });
      expect(notRefused).to.deep.equal([]);

      // Nothing changed: the user's sessions, password, account, factors; the administrator's target.
      expect(await sessionsOf(user)).to.deep.equal(sessionsBefore);
      expect(isLoggedIn(await getInfo(app, { accessToken: expire(other.accessToken), refreshToken: other.refreshToken }))).to.equal(true);
      expect(await users.findById(user.id)).to.deep.include({ locked: false, hasTotp: false });
      expect(await createPasskeyModel(db, redis, redisKeyPrefix).listByUser(user.id)).to.deep.equal([]);
      expect((await login(app, user.id)).accessToken).to.be.a('string');
      expect(await users.findById(target.id)).to.deep.include({ locked: false, isAdmin: false });
      expect(isLoggedIn(await getInfo(app, target))).to.equal(true);
      expect(isLoggedIn(await getInfo(app, { accessToken: expire(target.accessToken), refreshToken: target.refreshToken }))).to.equal(true);
      expect(isLoggedIn(await getInfo(app, admin))).to.equal(true);
    });
  });
});
