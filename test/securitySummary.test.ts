import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { createPasskeyModel } from '../src/models/passkeys.js';
import { en, ko } from './helpers/i18n.js';
import { cookieHeader, getInfo, loggedInUser, login, makeSite, postTo, type App, type Tokens } from './helpers/site.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';
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
