import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { createPasskeyModel } from '../src/models/passkeys.js';
import { en, ko } from './helpers/i18n.js';
import { cookieHeader, getInfo, loggedInUser, login, makeSite, PASSWORD, postTo, setCookies, type App, type Tokens } from './helpers/site.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';
import { hookedPool } from './helpers/hookedPool.js';
import { mysqlThroughProxy } from './helpers/tcpProxy.js';
import { until } from './helpers/until.js';

/** The info page's security summary as a person reads it: each part's link and state. */
function summaryOn(text: string): Record<string, string> {
  const section = /<section id="security"[\s\S]*?<\/section>/.exec(text)?.[0] ?? '';
  return Object.fromEntries(
    [...section.matchAll(/<a href="([^"]+)"><span>[^<]*<\/span> <strong class="state[^"]*">([^<]*)<\/strong><\/a>/g)].map((m) => [m[1], m[2]]),
  );
}

describe("the info page's security summary (kept per account in memory, kept true by announcements)", function () {
  this.timeout(30_000);
  let a: App;
  let b: App;
  before(async () => {
    // Two instances on the same stores, each with its own listening connection.
    a = (await makeSite()).app;
    b = (await makeSite()).app;
  });

  const summary = async (app: App, tokens: Tokens, lang = 'ko') => summaryOn((await getInfo(app, tokens).set('Accept-Language', lang)).text);

  it('says whether two-step verification is on, how many passkeys and live sessions there are, with a link to each page, in both languages', async () => {
    const user = await loggedInUser(a);
    expect(await summary(a, user)).to.deep.equal({
      '/user/2fa': ko('security.off'),
      '/user/passkeys': ko('security.passkeys', { count: 0 }),
      '/user/sessions': ko('security.sessions', { count: 1 }),
      '/user/password': ko('security.change'),
    });
    expect((await summary(a, user, 'en'))['/user/sessions']).to.equal(en('security.sessions', { count: 1 }));
    const info = await getInfo(a, user);
    expect(info.text).to.include(ko('security.advice'));
    for (const link of ['/user/sessions', '/user/password', '/user/2fa', '/user/passkeys', '/user/delete', '/user/logout'])
      expect(info.text).to.include(`href="${link}"`);
  });

  it('another instance that keeps the summary sees every change within a second: a login and a logout elsewhere, TOTP on, a passkey added', async () => {
    const user = await loggedInUser(a);
    expect((await summary(b, user))['/user/sessions']).to.equal(ko('security.sessions', { count: 1 }));
    const phone = await login(a, user.id);
    await until(async () => (await summary(b, user))['/user/sessions'] === ko('security.sessions', { count: 2 }), 'B sees the new login', 1000);
    expect((await request(a).get('/user/logout').set('Cookie', cookieHeader(phone))).status).to.equal(303);
    await until(async () => (await summary(b, user))['/user/sessions'] === ko('security.sessions', { count: 1 }), 'B sees the logout', 1000);

    const page = await request(a).get('/user/2fa').set('Cookie', cookieHeader(user));
    const secret = /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(page.text)![1];
    const code = TOTP.generate({ secret: Secret.fromBase32(secret) });
    expect((await postTo(a, '/user/2fa/enable', cookieHeader(user)).send({ code })).status).to.equal(200);
    await until(async () => (await summary(b, user))['/user/2fa'] === ko('security.on'), 'B sees TOTP on', 1000);

    // Two passkeys written straight into MySQL (announced by nobody): B keeps what it read. Removing one through
    // the site announces it: B reads again and finds the one left.
    const { db, redis } = await testStores();
    const model = createPasskeyModel(db, redis, redisKeyPrefix);
    const ids = [randomBytes(16).toString('base64url'), randomBytes(16).toString('base64url')];
    for (const credentialId of ids) {
      const passkey = { credentialId, userHandle: 'h'.repeat(43), publicKey: randomBytes(77), counter: 0, transports: [], name: 'Key' };
      expect(await model.add(user.id, passkey)).to.equal(true);
    }
    expect((await summary(b, user))['/user/passkeys'], 'kept: nobody announced them').to.equal(ko('security.passkeys', { count: 0 }));
    expect((await postTo(a, '/user/passkeys/remove', cookieHeader(user)).send({ credentialId: ids[0] })).status).to.equal(303);
    await until(async () => (await summary(b, user))['/user/passkeys'] === ko('security.passkeys', { count: 1 }), 'B sees the passkey removed', 1000);
  });
});

describe('the last login on an instance that read the account while that login was being written', function () {
  this.timeout(30_000);

  it("shows it: a summary read after the login's session started but before its activity row was written is not kept", async () => {
    const { redis } = await testStores();
    const { proxy, db: real, close } = await mysqlThroughProxy();
    let frozen: (() => void) | undefined;
    // The thief's instance: its MySQL hangs as the login's activity row is about to be written, until released.
    const db = hookedPool(real, (sql, _values, run) => {
      if (frozen === undefined && sql.startsWith('INSERT INTO security_events')) {
        proxy.freeze();
        frozen = () => proxy.restore();
      }
      return run();
    });
    try {
      const thiefSite = (await makeSite({}, { db, redis })).app;
      const ownerSite = (await makeSite()).app;
      const owner = await loggedInUser(ownerSite);
      const sessionsShown = async () => summaryOn((await getInfo(ownerSite, owner)).text)['/user/sessions'];
      expect(await sessionsShown()).to.equal(ko('security.sessions', { count: 1 }));
      const theft = Promise.resolve(
        postTo(thiefSite, '/user/login')
          .set('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0')
          .send({ id: owner.id, password: PASSWORD }),
      );
      await until(() => frozen !== undefined, "the thief's login writing its row", 5000);
      // The owner's instance heard the login (its session) and reads the account again: the row is not there yet.
      await until(async () => (await sessionsShown()) === ko('security.sessions', { count: 2 }), 'the owner sees a second session', 1000);
      frozen!();
      expect((await theft).status).to.equal(303);
      const info = (await getInfo(ownerSite, owner).set('Accept-Language', 'en')).text;
      expect(info, 'the last login before this one').to.include(en('security.lastLogin')).and.include('Firefox');
    } finally {
      await close();
    }
  });
});

describe('the info page kept in memory where views are cached (production): per session and language, while it shows the same', function () {
  this.timeout(30_000);
  let app: App;
  let renders = 0;
  before(async () => {
    app = (await makeSite()).app;
    app.enable('view cache');
    // res.render goes through app.render: counting its calls tells a kept page from a rendered one.
    const render = app.render.bind(app);
    app.render = (...args: Parameters<typeof render>) => (renders++, render(...args));
  });
  const renderedBy = async <T>(request: () => Promise<T>) => {
    const before = renders;
    const res = await request();
    return { res, rendered: renders - before };
  };

  it('sends the same bytes and headers again without rendering, and renders anew for a change, a notice, a query, another language or session', async () => {
    const user = await loggedInUser(app);
    const first = await renderedBy(() => getInfo(app, user));
    const again = await renderedBy(() => getInfo(app, user));
    expect([first.rendered, again.rendered]).to.deep.equal([1, 0]);
    expect(again.res.text).to.equal(first.res.text);
    const headers = (res: request.Response) =>
      Object.fromEntries(Object.entries(res.headers).filter(([name]) => !['date', 'x-request-id', 'set-cookie'].includes(name)));
    expect(headers(again.res)).to.deep.equal(headers(first.res));
    expect(again.res.headers['content-type']).to.equal('text/html; charset=utf-8');

    // Another language, a query, another session of the same account: each renders its own.
    expect((await renderedBy(() => getInfo(app, user).set('Cookie', `${cookieHeader(user)}; lang=en`))).rendered).to.equal(1);
    expect((await renderedBy(() => getInfo(app, user).query({ from: 'mail' }))).rendered).to.equal(1);
    const phone = await login(app, user.id);
    const onPhone = await renderedBy(() => getInfo(app, phone));
    expect(onPhone.rendered).to.equal(1);
    expect(summaryOn(onPhone.res.text)['/user/sessions']).to.equal(ko('security.sessions', { count: 2 }));
    // The login changed the summary: the first session's page shows 2 sessions now, rendered again.
    await until(async () => summaryOn((await getInfo(app, user)).text)['/user/sessions'] === ko('security.sessions', { count: 2 }), 'the new count', 1000);

    // A notice is shown once: that page is rendered, and the next one without it too (the kept page showed none).
    const changed = await postTo(app, '/user/password', cookieHeader(user))
      .type('form')
      .send({ currentPassword: PASSWORD, password: 'a new password, long enough', confirmPassword: 'a new password, long enough' });
    expect(changed.status, changed.text).to.equal(303);
    const tokens = { accessToken: setCookies(changed).accessToken.value, refreshToken: setCookies(changed).refreshToken.value };
    const notice = setCookies(changed).notice;
    const withNotice = await renderedBy(() => getInfo(app, tokens).set('Cookie', `${cookieHeader(tokens)}; notice=${notice.value}`));
    expect(withNotice.res.text).to.include(ko('password.changed'));
    expect(withNotice.rendered).to.equal(1);
    const after = await renderedBy(() => getInfo(app, tokens));
    expect(after.res.text).not.to.include(ko('password.changed'));
  });
});
