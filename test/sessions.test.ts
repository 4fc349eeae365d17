import { setTimeout as sleep } from 'node:timers/promises';
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createRedis } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { formatDateTime } from '../src/utils/dateTime.js';
import { deviceInWords } from '../src/utils/device.js';
import type { Translate } from '../src/utils/i18n.js';
import { en, ko } from './helpers/i18n.js';
import { expectUnavailable } from './helpers/outage.js';
import {
  cookieHeader,
  expire,
  getInfo,
  isLoggedIn,
  loggedInUser,
  login,
  makeSite,
  PASSWORD,
  postTo,
  refusedWithin,
  register,
  SECRETS,
  setCookies,
  uniqueId,
  type App,
  type Tokens,
} from './helpers/site.js';
import { REDIS_URL, testStores } from './helpers/stores.js';
import { startTcpProxy } from './helpers/tcpProxy.js';

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
};
/** The three devices of threeDevices() in the order the page lists them, in a language's words. */
const devicesIn = (t: Translate) =>
  [
    ['Chrome 131', 'Windows'],
    ['Firefox 133', 'Linux'],
    ['Safari 17', 'iOS'],
  ].map(([browser, os]) => t('sessions.device', { browser, os }));
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const sidOf = (tokens: Pick<Tokens, 'accessToken'>) => (jwt.decode(tokens.accessToken) as { sid: string }).sid;

interface ShownSession {
  sid: string;
  device: string;
  ip: string;
  createdAt: string;
  lastUsedAt: string;
  current: boolean;
}

describe('the device in words (User-Agent)', () => {
  it('names the browser with its major version and the system, in both languages', () => {
    expect(deviceInWords(UA.chromeWindows, en)).to.equal('Chrome 131 on Windows');
    expect(deviceInWords(UA.chromeWindows, ko)).to.equal(ko('sessions.device', { browser: 'Chrome 131', os: 'Windows' }));
    expect(deviceInWords(UA.safariIphone, en)).to.equal('Safari 17 on iOS');
    expect(deviceInWords(UA.firefoxLinux, en)).to.equal('Firefox 133 on Linux');
  });

  it('says "unknown device" when nothing is known, and keeps a made-up name short', () => {
    for (const ua of ['', '   ', 'curl/8.5.0', 'node']) {
      expect(deviceInWords(ua, en), ua).to.equal(en('sessions.unknownDevice'));
      expect(deviceInWords(ua, ko), ua).to.equal(ko('sessions.unknownDevice'));
    }
    expect(deviceInWords(`${'x'.repeat(200)}/1.0 (compatible)`, en).length).to.be.at.most(60);
  });
});

describe('the sessions page (/user/sessions)', function () {
  this.timeout(30_000);
  let app: App;
  before(async () => ({ app } = await makeSite({ TRUST_PROXY: 'loopback' })));

  const loginFrom = async (id: string, userAgent: string, ip = '203.0.113.9'): Promise<Tokens> => {
    const res = await postTo(app, '/user/login').set('User-Agent', userAgent).set('X-Forwarded-For', ip).send({ id, password: PASSWORD });
    expect(res.status, res.text).to.equal(303);
    const cookies = setCookies(res);
    return { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value };
  };
  const page = (tokens: Partial<Tokens>, query = '') => request(app).get(`/user/sessions${query}`).set('Cookie', cookieHeader(tokens));
  const listed = async (tokens: Partial<Tokens>): Promise<ShownSession[]> => {
    const res = await page(tokens).set('Accept', 'application/json');
    expect(res.status, res.text).to.equal(200);
    return res.body.sessions;
  };
  const revoke = (tokens: Partial<Tokens>, sid: unknown) => postTo(app, '/user/sessions/revoke', cookieHeader(tokens)).send({ sid });
  const revokeOthers = (tokens: Partial<Tokens>) => postTo(app, '/user/sessions/revoke-others', cookieHeader(tokens));
  /** Logged in by the access token alone (no store round trip), or by the refresh token alone (case 3). */
  const accessWorks = async (tokens: Tokens) => isLoggedIn(await getInfo(app, { accessToken: tokens.accessToken }));
  const refreshWorks = async (tokens: Tokens) => isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }));
  /** The one-time notice a response left, as the next page shows it (the cookie is signed: read it back). */
  const noticeAfter = async (res: request.Response, tokens: Partial<Tokens>) => {
    const notice = setCookies(res).notice;
    expect(notice, 'a notice cookie').to.not.equal(undefined);
    const next = await request(app)
      .get('/user/sessions?lang=en')
      .set('Cookie', `${cookieHeader(tokens)}; notice=${encodeURIComponent(notice.value)}`);
    return /<p class="notice" role="status">([^<]*)<\/p>/.exec(next.text)?.[1];
  };

  /** One account logged in `count` times, in that order. */
  async function sessionsOfOneAccount(count: number): Promise<Tokens[]> {
    const id = uniqueId();
    await register(app, { id });
    const sessions: Tokens[] = [];
    for (let i = 0; i < count; i++) sessions.push(await login(app, id));
    return sessions;
  }

  /** One account logged in from three devices; the first is used again last, the third is this request's. */
  async function threeDevices() {
    const id = uniqueId();
    await register(app, { id });
    const chrome = await loginFrom(id, UA.chromeWindows, '198.51.100.1');
    await sleep(5);
    const safari = await loginFrom(id, UA.safariIphone, '198.51.100.2');
    await sleep(5);
    const firefox = await loginFrom(id, UA.firefoxLinux, '2001:db8::3');
    await sleep(5);
    // A refresh is a use: Chrome's session moves to the top.
    const refreshed = await getInfo(app, { accessToken: expire(chrome.accessToken), refreshToken: chrome.refreshToken });
    expect(isLoggedIn(refreshed)).to.equal(true);
    return { id, chrome, safari, firefox };
  }

  it('JSON: every live session, most recently used first, with device words, IP, ISO 8601 times and the current one marked', async () => {
    const startedAt = Date.now();
    const { chrome, safari, firefox } = await threeDevices();
    const sessions = await listed(firefox);
    expect(sessions.map((s) => s.sid)).to.deep.equal([sidOf(chrome), sidOf(firefox), sidOf(safari)]);
    expect(sessions.map((s) => s.device)).to.deep.equal(devicesIn(ko));
    expect(sessions.map((s) => s.ip)).to.deep.equal(['198.51.100.1', '2001:db8::3', '198.51.100.2']);
    expect(sessions.map((s) => s.current)).to.deep.equal([false, true, false]);
    for (const s of sessions) {
      expect(Object.keys(s).sort()).to.deep.equal(['createdAt', 'current', 'device', 'ip', 'lastUsedAt', 'sid']);
      expect(s.createdAt).to.match(ISO);
      expect(s.lastUsedAt).to.match(ISO);
      expect(Date.parse(s.createdAt)).to.be.within(startedAt, Date.now());
      expect(Date.parse(s.lastUsedAt)).to.be.at.least(Date.parse(s.createdAt));
    }
    const [used, , unused] = sessions;
    expect(Date.parse(used.lastUsedAt), 'a refresh counts as a use').to.be.above(Date.parse(used.createdAt));
    expect(unused.lastUsedAt).to.equal(unused.createdAt);
    // In English the device is in English words.
    const english = await page(firefox, '?lang=en').set('Accept', 'application/json');
    expect(english.body.sessions.map((s: ShownSession) => s.device)).to.deep.equal(['Chrome 131 on Windows', 'Firefox 133 on Linux', 'Safari 17 on iOS']);
    expect(devicesIn(en)).to.deep.equal(['Chrome 131 on Windows', 'Firefox 133 on Linux', 'Safari 17 on iOS']);
  });

  for (const [lang, t] of [
    ['ko', ko],
    ['en', en],
  ] as const) {
    it(`HTML in ${lang}: this device first and marked, then the others most recently used first, times in the person's language, a form per other session naming its device, and one for all others`, async () => {
      const { chrome, safari, firefox } = await threeDevices();
      const sessions = await listed(firefox);
      const res = await page(firefox, `?lang=${lang}`);
      expect(res.status).to.equal(200);
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.text).to.include(`<html lang="${lang}">`);
      expect(res.text).to.include(`<title>${t('sessions.title')} · login-page</title>`);
      const items = res.text.split('<li class="session').slice(1);
      expect(items).to.have.length(3);
      const devices = devicesIn(t);
      const shownOrder = [...sessions.keys()].sort((a, b) => Number(sessions[b].current) - Number(sessions[a].current));
      items.forEach((item, i) => {
        const s = sessions[shownOrder[i]];
        const device = devices[shownOrder[i]];
        expect(item).to.include(device);
        expect(item).to.include(`<dd>${s.ip}</dd>`);
        expect(item).to.include(`<time datetime="${s.createdAt}">${formatDateTime(lang, s.createdAt)}</time>`);
        expect(item).to.include(`<time datetime="${s.lastUsedAt}">${formatDateTime(lang, s.lastUsedAt)}</time>`);
        expect(item.includes(`<span class="badge">${t('sessions.current')}</span>`), `item ${i} marked current`).to.equal(i === 0);
        expect(s.current, `item ${i} is this device`).to.equal(i === 0);
        expect(item.includes(`name="sid" value="${s.sid}"`), `item ${i} has a form`).to.equal(!s.current);
        if (!s.current) expect(item).to.include(`>${t('sessions.revokeDevice', { device })}</button>`);
      });
      expect(res.text).not.to.include(t('sessions.revokeDevice', { device: devices[shownOrder[0]] }));
      expect(items[1]).to.match(/<form method="post" action="\/user\/sessions\/revoke">\s*<input type="hidden" name="_csrf" value="[^"]+">/);
      expect(res.text).to.match(/<form method="post" action="\/user\/sessions\/revoke-others">\s*<input type="hidden" name="_csrf" value="[^"]+">/);
      expect(res.text)
        .to.include(t('sessions.revokeOthers'))
        .and.include(t('sessions.revokeOthersSubmit', { count: 2 }));
      expect(formatDateTime(lang, sessions[0].createdAt)).to.not.equal(formatDateTime(lang === 'ko' ? 'en' : 'ko', sessions[0].createdAt));
      // Ended sessions are not listed.
      await revoke(firefox, sidOf(chrome));
      await revoke(firefox, sidOf(safari));
      const alone = await page(firefox, `?lang=${lang}`);
      expect(alone.text.split('<li class="session')).to.have.length(2);
      expect(alone.text).to.include(t('sessions.noOthers'));
    });
  }

  it('ending another session refuses its refresh token at once and its access token within 1 s; this one keeps working', async () => {
    const [other, mine] = await sessionsOfOneAccount(2);
    const res = await revoke(mine, sidOf(other));
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/user/sessions');
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(await noticeAfter(res, mine)).to.equal(en('sessions.notice.revoked'));
    expect(await refreshWorks(other)).to.equal(false);
    await refusedWithin(app, other, 1000);
    expect(await accessWorks(mine)).to.equal(true);
    expect(await refreshWorks(mine)).to.equal(true);
    expect((await listed(mine)).map((s) => s.sid)).to.deep.equal([sidOf(mine)]);
  });

  it('ending the current session is a logout: cookies cleared, 303 to /user/login, its tokens refused', async () => {
    const mine = await loggedInUser(app);
    const res = await revoke(mine, sidOf(mine));
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/user/login');
    const cookies = setCookies(res);
    expect(cookies.accessToken.value).to.equal('');
    expect(cookies.refreshToken.value).to.equal('');
    const loginPage = await request(app)
      .get('/user/login?lang=en')
      .set('Cookie', `notice=${encodeURIComponent(cookies.notice.value)}`);
    expect(loginPage.text).to.include(`<p class="notice" role="status">${en('notice.loggedOut')}</p>`);
    expect(await refreshWorks(mine)).to.equal(false);
    await refusedWithin(app, mine, 1000);
  });

  it('revoke-others ends every other session, keeps this one, and says how many ended', async () => {
    const [mine, ...others] = (await sessionsOfOneAccount(4)).reverse();
    const res = await revokeOthers(mine);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/user/sessions');
    expect(await noticeAfter(res, mine)).to.equal(en('sessions.notice.revokedOthers', { count: 3 }));
    for (const other of others) {
      expect(await refreshWorks(other)).to.equal(false);
      await refusedWithin(app, other, 1000);
    }
    expect(await accessWorks(mine)).to.equal(true);
    expect(await refreshWorks(mine)).to.equal(true);
    expect((await listed(mine)).map((s) => s.sid)).to.deep.equal([sidOf(mine)]);
    expect(await noticeAfter(await revokeOthers(mine), mine)).to.equal(en('sessions.notice.revokedOthers', { count: 0 }));
  });

  it('a notice cookie that is not signed, or not a known key and count, shows nothing', async () => {
    const mine = await loggedInUser(app);
    const valid = setCookies(await revokeOthers(mine)).notice.value;
    expect(await noticeAfter(await revokeOthers(mine), mine)).to.equal(en('sessions.notice.revokedOthers', { count: 0 }));
    // Signed as the site signs (cookie-parser's `s:` form), but not a value the site writes.
    const signed = (value: string) => `s:${value}.${createHmac('sha256', SECRETS.COOKIE_SECRET).update(value).digest('base64').replace(/=+$/, '')}`;
    expect(signed('otherSessionsRevoked:0')).to.equal(valid);
    const forged = [
      'otherSessionsRevoked:3',
      valid.replace(':0.', ':9.'),
      signed('otherSessionsRevoked:<b>'),
      signed('otherSessionsRevoked:1234567'),
      signed('toString:1'),
      signed('__proto__'),
    ];
    for (const value of forged) {
      const res = await page(mine).set('Cookie', `${cookieHeader(mine)}; notice=${encodeURIComponent(value)}`);
      expect(res.status, value).to.equal(200);
      expect(res.text, value).to.not.include('class="notice"');
    }
  });

  it("another account's sid: 404, and that session keeps working", async () => {
    const victim = await loggedInUser(app);
    const attacker = await loggedInUser(app);
    const res = await revoke(attacker, sidOf(victim)).set('Accept-Language', 'en');
    expect(res.status).to.equal(404);
    expect(res.text).to.include(en('sessions.notFound'));
    await sleep(100);
    expect(await accessWorks(victim)).to.equal(true);
    expect(await refreshWorks(victim)).to.equal(true);
    expect((await listed(victim)).map((s) => s.sid)).to.include(sidOf(victim));
    expect(await accessWorks(attacker)).to.equal(true);
  });

  it('a made-up, empty or missing sid: 404 (JSON too), and nothing ends', async () => {
    const [other, mine] = await sessionsOfOneAccount(2);
    for (const sid of ['no-such-session', '', undefined, '*', `${sidOf(mine)}x`]) {
      expect((await revoke(mine, sid)).status, String(sid)).to.equal(404);
    }
    const json = await revoke(mine, 'no-such-session').set('Accept', 'application/json').set('Accept-Language', 'en');
    expect(json.status).to.equal(404);
    expect(json.body).to.deep.include({ success: false, msg: en('sessions.notFound') });
    await sleep(100);
    expect(await listed(mine)).to.have.length(2);
    expect(await accessWorks(other)).to.equal(true);
    expect(await accessWorks(mine)).to.equal(true);
  });

  it('JSON clients: 200 { success: true } for both posts', async () => {
    const [a, b, mine] = await sessionsOfOneAccount(3);
    const one = await revoke(mine, sidOf(a)).set('Accept', 'application/json');
    expect([one.status, one.body]).to.deep.equal([200, { success: true }]);
    const all = await revokeOthers(mine).set('Accept', 'application/json');
    expect([all.status, all.body]).to.deep.equal([200, { success: true }]);
    expect(await refreshWorks(b)).to.equal(false);
  });

  it('not logged in: the page sends to log in and come back (JSON: 401); the posts send to /user/login and end nothing', async () => {
    const res = await request(app).get('/user/sessions');
    expect(res.status).to.equal(303);
    const location = new URL(res.headers.location, 'http://site');
    expect([location.pathname, location.searchParams.get('next')]).to.deep.equal(['/user/login', '/user/sessions']);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect((await request(app).get('/user/sessions').set('Accept', 'application/json')).status).to.equal(401);
    const user = await loggedInUser(app);
    for (const post of [postTo(app, '/user/sessions/revoke').send({ sid: sidOf(user) }), postTo(app, '/user/sessions/revoke-others')]) {
      const answer = await post;
      expect([answer.status, answer.headers.location]).to.deep.equal([303, '/user/login']);
    }
    expect(await refreshWorks(user)).to.equal(true);
  });

  it('a post without the CSRF token, or from another site, gets 403 and ends nothing', async () => {
    const [other, mine] = await sessionsOfOneAccount(2);
    const noToken = [
      request(app)
        .post('/user/sessions/revoke')
        .set('Cookie', cookieHeader(mine))
        .type('form')
        .send({ sid: sidOf(other) }),
      request(app).post('/user/sessions/revoke-others').set('Cookie', cookieHeader(mine)).type('form').send({}),
    ];
    const crossSite = [revoke(mine, sidOf(other)).set('Origin', 'https://evil.example'), revokeOthers(mine).set('Sec-Fetch-Site', 'cross-site')];
    for (const res of await Promise.all([...noToken, ...crossSite])) expect(res.status).to.equal(403);
    await sleep(100);
    expect(await listed(mine)).to.have.length(2);
    expect(await accessWorks(other)).to.equal(true);
  });

  const MIXES = {
    'revoke-others only': () => true,
    'revoke and revoke-others interleaved (four sessions named twice)': (i: number) => i % 5 < 2,
  };
  for (const [mix, endsAllOthers] of Object.entries(MIXES)) {
    it(`20 parallel requests, ${mix}, from one account: each other session ends exactly once (no 500)`, async () => {
      const [mine, ...others] = (await sessionsOfOneAccount(9)).reverse();
      const requests = Array.from({ length: 20 }, (_, i) =>
        endsAllOthers(i) ? { kind: 'others', res: revokeOthers(mine) } : { kind: 'revoke', res: revoke(mine, sidOf(others[i % others.length])) },
      );
      const answers = await Promise.all(requests.map(async ({ kind, res }) => ({ kind, res: await res })));
      expect(answers.filter(({ res }) => res.status >= 500)).to.deep.equal([]);
      const revokes = answers.filter(({ kind }) => kind === 'revoke');
      const revoked = revokes.filter(({ res }) => res.status === 303).length;
      expect(revokes.filter(({ res }) => res.status === 404)).to.have.length(revokes.length - revoked);
      const counted = answers
        .filter(({ kind }) => kind === 'others')
        .map(({ res }) => {
          expect(res.status).to.equal(303);
          return Number(/^s:otherSessionsRevoked:(\d+)\./.exec(setCookies(res).notice.value)?.[1]);
        });
      expect(revoked + counted.reduce((sum, n) => sum + n, 0), 'sessions ended').to.equal(others.length);
      for (const other of others) expect(await refreshWorks(other)).to.equal(false);
      expect(await accessWorks(mine)).to.equal(true);
      expect((await listed(mine)).map((s) => s.sid)).to.deep.equal([sidOf(mine)]);
    });
  }
});

describe('the sessions page while Redis is down', function () {
  this.timeout(30_000);

  it('answers 503 to the list and both posts, keeps the cookies, and ends nothing', async () => {
    const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    const redis = createRedis(`redis://127.0.0.1:${proxy.port}`, createLogger('silent'));
    try {
      await redis.connect();
      const { app } = await makeSite({}, { db: (await testStores()).db, redis });
      const id = uniqueId();
      await register(app, { id });
      const other = await login(app, id);
      const mine = await login(app, id);
      proxy.cut();
      await expectUnavailable(request(app).get('/user/sessions').set('Cookie', cookieHeader(mine)));
      await expectUnavailable(postTo(app, '/user/sessions/revoke', cookieHeader(mine)).send({ sid: sidOf(other) }));
      await expectUnavailable(postTo(app, '/user/sessions/revoke-others', cookieHeader(mine)));
      proxy.restore();
      const started = Date.now();
      let res = await request(app).get('/user/sessions').set('Cookie', cookieHeader(mine)).set('Accept', 'application/json');
      while (res.status === 503 && Date.now() - started < 5000) {
        await sleep(100);
        res = await request(app).get('/user/sessions').set('Cookie', cookieHeader(mine)).set('Accept', 'application/json');
      }
      expect(res.body.sessions).to.have.length(2);
    } finally {
      proxy.restore();
      await redis.close();
      await proxy.close();
    }
  });
});
