import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import type { RedisClient } from '../src/config/clients.js';
import { ko } from './helpers/i18n.js';
import {
  cookieHeader,
  expire,
  getInfo,
  isLoggedIn,
  loggedInUser,
  makeSite,
  PASSWORD,
  postTo,
  register,
  setCookies,
  uniqueId,
  type App,
  type Tokens,
} from './helpers/site.js';
import { redisKeyPrefix } from './helpers/stores.js';

const SHARED_IDLE_MS = 3000;
const sidOf = (tokens: Pick<Tokens, 'accessToken'>) => (jwt.decode(tokens.accessToken) as { sid: string }).sid;
const tokensOf = (res: request.Response): Tokens => ({ accessToken: setCookies(res).accessToken.value, refreshToken: setCookies(res).refreshToken.value });
/** Whether both auth cookies end with the browser (no Max-Age, no Expires). */
const sessionCookies = (res: request.Response) => ['accessToken', 'refreshToken'].map((name) => !/max-age|expires/i.test(setCookies(res)[name].attributes));

describe('"shared computer": cookies that end with the browser, and a session that ends in Redis after SHARED_SESSION_IDLE_TTL', function () {
  this.timeout(30_000);
  let app: App;
  let redis: RedisClient;
  before(async () => ({ app, redis } = await makeSite({ SHARED_SESSION_IDLE_TTL: `${SHARED_IDLE_MS}ms`, SESSION_IDLE_TTL: '1h' })));

  const sessionTtl = (userId: string, tokens: Tokens) => redis.pTTL(`${redisKeyPrefix}session:{${userId}}:${sidOf(tokens)}`);
  const logIn = (id: string, extra: Record<string, unknown> = {}) => postTo(app, '/user/login').send({ id, password: PASSWORD, ...extra });

  it('the login form offers it unticked, in both languages; ticked, both cookies have no Max-Age and the session its short idle limit; unticked, as before', async () => {
    const form = await request(app).get('/user/login');
    expect(form.text).to.match(/<input type="checkbox" id="shared" name="shared" aria-describedby="shared-hint">/);
    expect(form.text).to.include(ko('login.shared'));
    const id = uniqueId();
    await register(app, { id });
    const shared = await logIn(id, { shared: 'on' });
    expect(shared.status).to.equal(303);
    expect(sessionCookies(shared)).to.deep.equal([true, true]);
    expect(await sessionTtl(id, tokensOf(shared))).to.be.within(1, SHARED_IDLE_MS);
    const usual = await logIn(id);
    expect(sessionCookies(usual)).to.deep.equal([false, false]);
    expect(await sessionTtl(id, tokensOf(usual))).to.be.above(SHARED_IDLE_MS * 100);
  });

  it('a JSON login may send "shared": true; a wrong password keeps the box ticked on the form shown again', async () => {
    const id = uniqueId();
    await register(app, { id });
    const json = await postTo(app, '/user/login').type('json').set('Accept', 'application/json').send({ id, password: PASSWORD, shared: true });
    expect([json.status, json.body]).to.deep.equal([200, { success: true }]);
    expect(sessionCookies(json)).to.deep.equal([true, true]);
    const wrong = await logIn(id, { password: 'not the password', shared: 'on' });
    expect(wrong.status).to.equal(401);
    expect(wrong.text).to.match(/name="shared" aria-describedby="shared-hint" checked>/);
  });

  it('the session ends in Redis after the short idle limit while a usual one lives; a refresh keeps the cookies without Max-Age and the short limit', async () => {
    const id = uniqueId();
    await register(app, { id });
    const shared = tokensOf(await logIn(id, { shared: 'on' }));
    const usual = tokensOf(await logIn(id));
    const refreshed = await getInfo(app, { accessToken: expire(shared.accessToken), refreshToken: shared.refreshToken });
    expect(isLoggedIn(refreshed)).to.equal(true);
    expect(sessionCookies(refreshed)).to.deep.equal([true, true]);
    const rotated = tokensOf(refreshed);
    expect(await sessionTtl(id, rotated)).to.be.within(1, SHARED_IDLE_MS);
    const sessions = await request(app).get('/user/sessions').set('Cookie', cookieHeader(usual));
    expect(sessions.text.match(new RegExp(`<span class="badge shared">${ko('sessions.shared')}</span>`, 'g'))).to.have.length(1);

    await sleep(SHARED_IDLE_MS + 300);
    expect(await sessionTtl(id, rotated)).to.equal(-2);
    expect(isLoggedIn(await getInfo(app, { accessToken: expire(rotated.accessToken), refreshToken: rotated.refreshToken }))).to.equal(false);
    expect(isLoggedIn(await getInfo(app, { accessToken: expire(usual.accessToken), refreshToken: usual.refreshToken }))).to.equal(true);
  });

  it('through the code step (TOTP) and a password change, a shared computer’s login stays one', async () => {
    const user = await loggedInUser(app);
    const secret = /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(
      (await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text,
    )![1];
    const enabled = await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: TOTP.generate({ secret: Secret.fromBase32(secret) }) });
    expect(enabled.status).to.equal(200);
    const recoveryCode = /<code class="recovery-code">([A-Z2-7-]+)<\/code>/.exec(enabled.text)![1];
    const first = await logIn(user.id, { shared: 'on' });
    const waiting = `waitingLogin=${encodeURIComponent(setCookies(first).waitingLogin.value)}`;
    const code = TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + 30_000 });
    const second = await postTo(app, '/user/login/2fa', waiting).send({ code });
    expect(second.status, second.text).to.equal(303);
    expect(sessionCookies(second)).to.deep.equal([true, true]);
    const changed = await postTo(app, '/user/password', cookieHeader(tokensOf(second))).send({
      currentPassword: PASSWORD,
      password: 'a brand new passphrase',
      confirmPassword: 'a brand new passphrase',
      code: recoveryCode,
    });
    expect(changed.status, changed.text).to.equal(303);
    expect(sessionCookies(changed)).to.deep.equal([true, true]);
    expect(await sessionTtl(user.id, tokensOf(changed))).to.be.within(1, SHARED_IDLE_MS);
  });
});
