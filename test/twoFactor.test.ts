import { randomBytes, randomInt } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { RowDataPacket } from 'mysql2/promise';
import { Secret, TOTP, URI } from 'otpauth';
import request from 'supertest';
import type { Db, RedisClient } from '../src/config/clients.js';
import { createUserModel } from '../src/models/user.js';
import { createPasswords } from '../src/utils/password.js';
import { en, ko } from './helpers/i18n.js';
import {
  cookieHeader,
  getInfo,
  isLoggedIn,
  loggedInUser,
  login,
  makeSite,
  PASSWORD,
  postTo,
  refusedWithin,
  register,
  setCookies,
  type App,
  type Tokens,
  uniqueId,
} from './helpers/site.js';
import { redisKeyPrefix } from './helpers/stores.js';

const STEP_MS = 30_000;
const WAITING = 'waitingLogin';
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;
/** A made-up client address (the site trusts X-Forwarded-For here): each its own failure counters. */
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
/**
 * The code of the step `ahead` steps from now. Enrolment uses step 0 and a login step +1: should the clock pass a
 * step boundary on the way, both are still within the one step of drift allowed, and the login's is still later.
 */
const codeAt = (secret: string, ahead: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + ahead * STEP_MS });
/** The Redis hash of the session a user's access token names (models/refreshSessions.ts). */
const sessionKeyOf = (user: { id: string; accessToken: string }) =>
  `${redisKeyPrefix}session:{${user.id}}:${(jwt.decode(user.accessToken) as { sid: string }).sid}`;
const cookieOf = (name: string, value: string) => `${name}=${encodeURIComponent(value)}`;
const noticeOf = (res: request.Response) => cookieOf('notice', setCookies(res).notice.value);

interface Enrolled extends Tokens {
  id: string;
  secret: string;
  recoveryCodes: string[];
}

describe('two-step verification (TOTP and recovery codes)', function () {
  this.timeout(60_000);
  let app: App;
  let db: Db;
  let redis: RedisClient;
  // Parallel logins must not wait in HASH_CONCURRENCY's queue (tested elsewhere); each test uses its own IPs.
  before(async () => ({ app, db, redis } = await makeSite({ TRUST_PROXY: 'true', HASH_CONCURRENCY: '64' })));

  const secretOnPage = (text: string) => /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(text)?.[1];
  const recoveryCodesOn = (text: string) => [...text.matchAll(/<code class="recovery-code">([A-Z2-7-]+)<\/code>/g)].map((m) => m[1]);

  /** A registered, logged-in user who turned TOTP on with the code of step 0. */
  async function enrolledUser(): Promise<Enrolled> {
    const user = await loggedInUser(app);
    const page = await request(app).get('/user/2fa').set('Cookie', cookieHeader(user));
    const secret = secretOnPage(page.text)!;
    const res = await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: codeAt(secret, 0) });
    expect(res.status, res.text).to.equal(200);
    return { ...user, secret, recoveryCodes: recoveryCodesOn(res.text) };
  }

  /** The first step: the right password; answers the waiting login's cookie (no auth cookie yet). */
  async function passwordStep(id: string, { ip = someIp(), next }: { ip?: string; next?: string } = {}): Promise<string> {
    const res = await postTo(app, '/user/login')
      .set('X-Forwarded-For', ip)
      .send({ id, password: PASSWORD, ...(next ? { next } : {}) });
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal('/user/login/2fa');
    expect(setCookies(res)).not.to.have.any.keys('accessToken', 'refreshToken');
    return cookieOf(WAITING, setCookies(res)[WAITING].value);
  }
  const sendCode = (waiting: string, code: string, ip = someIp()) => postTo(app, '/user/login/2fa', waiting).set('X-Forwarded-For', ip).send({ code });
  const tokensOf = (res: request.Response): Tokens => ({ accessToken: setCookies(res).accessToken.value, refreshToken: setCookies(res).refreshToken.value });
  const waitingKeys = (id: string) => redis.keys(`${redisKeyPrefix}waiting-login:{${id}}:*`);

  describe('GET /user/2fa and enrolment', () => {
    it('without TOTP: a QR code (inline SVG) of an otpauth://totp/ URI (SHA-1, 6 digits, 30 s, issuer, the id as label), the secret as text, the same on every reload', async () => {
      const user = await loggedInUser(app);
      const pages = await Promise.all([1, 2, 3].map(() => request(app).get('/user/2fa').set('Cookie', cookieHeader(user))));
      const secrets = pages.map((page) => secretOnPage(page.text));
      expect(new Set(secrets).size, 'the same secret on every reload').to.equal(1);
      const page = pages[0];
      expect(page.status).to.equal(200);
      expect(page.headers['cache-control']).to.equal('no-store');
      expect(page.text).to.match(/<div class="qr" role="img" aria-label="[^"]+" aria-describedby="qr-caption"><svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(page.text).not.to.match(/<script(?![^>]*\ssrc="\/static\/)|style=/);
      const href = /<a id="totp-uri" href="([^"]+)"/.exec(page.text)![1].replace(/&amp;/g, '&');
      const totp = URI.parse(href) as TOTP;
      expect(totp).to.be.instanceOf(TOTP);
      expect({ issuer: totp.issuer, label: totp.label, algorithm: totp.algorithm, digits: totp.digits, period: totp.period }).to.deep.equal({
        issuer: 'login-page',
        label: user.id,
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
      });
      expect(totp.secret.base32).to.equal(secrets[0]);
      expect(page.text).to.match(/<input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"[^>]* aria-describedby="code-hint"/);
      expect(page.text).to.match(/<label for="code">/);
    });

    it('a wrong code: 400 and the page again with the same secret; the right one: 200 with 10 recovery codes shown once, TOTP on', async () => {
      const user = await loggedInUser(app);
      const secret = secretOnPage((await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text)!;
      const wrong = await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: codeAt(secret, 5) });
      expect(wrong.status).to.equal(400);
      expect(wrong.text).to.include(ko('twoFactor.wrongCode'));
      expect(secretOnPage(wrong.text)).to.equal(secret);
      const right = await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: codeAt(secret, 0) });
      expect(right.status).to.equal(200);
      expect(right.headers['cache-control']).to.equal('no-store');
      const codes = recoveryCodesOn(right.text);
      expect(codes).to.have.length(10);
      expect(new Set(codes).size).to.equal(10);
      for (const code of codes) expect(code).to.match(/^[A-Z2-7]{5}-[A-Z2-7]{5}$/);
      const after = await request(app).get('/user/2fa').set('Cookie', cookieHeader(user));
      expect(after.text)
        .to.include(ko('twoFactor.onIntro'))
        .and.include(ko('twoFactor.codesLeft', { count: 10 }));
      expect(after.text).not.to.include('totp-secret');
      for (const code of codes) expect(after.text).not.to.include(code);
      expect(after.text).to.match(/<input id="password" name="password" type="password"/);
    });

    it('in parallel: 20 accounts enrolling at once all get their recovery codes (no lock of one blocks another)', async () => {
      const enrolled = await Promise.all(Array.from({ length: 20 }, enrolledUser));
      expect(enrolled.map((user) => user.recoveryCodes.length)).to.deep.equal(Array(20).fill(10));
    });

    it('a pending secret that no longer opens (another TOTP_ENCRYPTION_KEY) is replaced by a fresh one: 200, and the new secret enables TOTP', async () => {
      const user = await loggedInUser(app);
      const before = secretOnPage((await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text)!;
      await redis.hSet(sessionKeyOf(user), 'totpOffered', `${Date.now()} ${randomBytes(48).toString('base64')}`);
      const pages = await Promise.all([1, 2, 3].map(() => request(app).get('/user/2fa?lang=en').set('Cookie', cookieHeader(user))));
      expect(pages.map((page) => page.status)).to.deep.equal([200, 200, 200]);
      const secrets = new Set(pages.map((page) => secretOnPage(page.text)));
      expect(secrets.size, 'parallel loads agree on one fresh secret').to.equal(1);
      const [secret] = [...secrets];
      expect(secret)
        .to.match(/^[A-Z2-7]{32}$/)
        .and.not.equal(before);
      const enabled = await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: codeAt(secret!, 0) });
      expect(enabled.status, enabled.text).to.equal(200);
      expect(recoveryCodesOn(enabled.text)).to.have.length(10);
    });

    it('enabling ends every other session of the account (their access tokens refused within 1 s), this one stays', async () => {
      const user = await loggedInUser(app);
      const others = await Promise.all([login(app, user.id), login(app, user.id)]);
      const secret = secretOnPage((await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text)!;
      expect((await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: codeAt(secret, 0) })).status).to.equal(200);
      await Promise.all(others.map((other) => refusedWithin(app, other, 1000)));
      expect(isLoggedIn(await getInfo(app, user))).to.equal(true);
    });

    it('the secret is stored encrypted (not the key, not its base32), and a ciphertext moved to another account opens nothing there', async () => {
      const alice = await enrolledUser();
      const bob = await enrolledUser();
      const [[row]] = await db.query<RowDataPacket[]>('SELECT * FROM users WHERE id = ?', [alice.id]);
      const stored = row.totp_secret as Buffer;
      const raw = Buffer.from(Secret.fromBase32(alice.secret).buffer);
      expect(stored.length).to.equal(12 + 16 + raw.length);
      expect(stored.includes(raw)).to.equal(false);
      expect(JSON.stringify(row)).not.to.include(alice.secret);
      const [codes] = await db.query<RowDataPacket[]>('SELECT code_hash FROM recovery_codes WHERE user_pk = ?', [row.pk]);
      expect(codes).to.have.length(10);
      expect(JSON.stringify(codes)).not.to.include(alice.recoveryCodes[0].replace('-', ''));
      // Alice's ciphertext in Bob's row: Alice's code does not log Bob in.
      await db.query('UPDATE users SET totp_secret = ? WHERE id = ?', [stored, bob.id]);
      const res = await sendCode(await passwordStep(bob.id), codeAt(alice.secret, 1));
      expect(res.status).to.equal(401);
    });
  });

  describe('the second step of a login', () => {
    it('password, then code: no auth cookie before the code, then logged in and sent to `next`', async () => {
      const user = await enrolledUser();
      const first = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD, next: '/user/sessions' });
      expect(first.status).to.equal(303);
      expect(first.headers.location).to.equal('/user/login/2fa');
      const cookies = setCookies(first);
      expect(cookies).not.to.have.any.keys('accessToken', 'refreshToken');
      expect(cookies[WAITING].attributes)
        .to.match(/HttpOnly/)
        .and.match(/SameSite=Strict/)
        .and.match(/Path=\//);
      expect(Number(/Max-Age=(\d+)/.exec(cookies[WAITING].attributes)![1])).to.be.within(1, 300);
      const waiting = cookieOf(WAITING, cookies[WAITING].value);
      // The waiting cookie is no login.
      expect(isLoggedIn(await request(app).get('/user/info').set('Cookie', waiting))).to.equal(false);

      const form = await request(app).get('/user/login/2fa').set('Cookie', waiting);
      expect(form.status).to.equal(200);
      expect(form.headers['cache-control']).to.equal('no-store');
      expect(form.text).to.match(/<input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"/);
      expect(form.text).to.match(/<input type="hidden" name="_csrf" value="[^"]+">/);

      const wrong = await sendCode(waiting, codeAt(user.secret, 9));
      expect(wrong.status).to.equal(401);
      expect(wrong.text).to.include(ko('loginCode.wrong'));
      expect(setCookies(wrong)).not.to.have.any.keys('accessToken', 'refreshToken');
      const right = await sendCode(waiting, codeAt(user.secret, 1));
      expect(right.status, right.text).to.equal(303);
      expect(right.headers.location).to.equal('/user/sessions');
      expect(setCookies(right)[WAITING].value).to.equal('');
      expect(isLoggedIn(await getInfo(app, tokensOf(right)))).to.equal(true);
      expect(await waitingKeys(user.id)).to.deep.equal([]);
    });

    it('a code is accepted once: the same code on a second waiting login is refused (replay), and so is an older one', async () => {
      const user = await enrolledUser();
      const code = codeAt(user.secret, 1);
      expect((await sendCode(await passwordStep(user.id), code)).status).to.equal(303);
      const again = await passwordStep(user.id);
      expect((await sendCode(again, code)).status).to.equal(401);
      expect((await sendCode(again, codeAt(user.secret, 0))).status).to.equal(401);
    });

    it('in parallel: the same valid code sent by 20 waiting logins of the account at once logs in exactly one', async () => {
      const user = await enrolledUser();
      const waiting = await Promise.all(Array.from({ length: 20 }, () => passwordStep(user.id)));
      const code = codeAt(user.secret, 1);
      const answers = await Promise.all(waiting.map((cookie) => sendCode(cookie, code)));
      const statuses = answers.map((res) => res.status);
      expect(count(statuses, 303)).to.equal(1);
      // Codes in flight count against the account's wrong codes (10) before they are checked: the rest may get 429.
      expect(count(statuses, 401) + count(statuses, 429)).to.equal(19);
      expect(answers.filter((res) => setCookies(res).accessToken)).to.have.length(1);
    });

    it('a recovery code works once (any case, with or without the hyphen), and the page counts what is left', async () => {
      const user = await enrolledUser();
      const [code] = user.recoveryCodes;
      const used = await sendCode(await passwordStep(user.id), code.replace('-', ' ').toLowerCase());
      expect(used.status).to.equal(303);
      expect((await sendCode(await passwordStep(user.id), code)).status).to.equal(401);
      const page = await request(app)
        .get('/user/2fa')
        .set('Cookie', cookieHeader(tokensOf(used)));
      expect(page.text).to.include(ko('twoFactor.codesLeft', { count: 9 }));
    });

    it('in parallel: one recovery code sent by 20 waiting logins at once logs in exactly one', async () => {
      const user = await enrolledUser();
      const waiting = await Promise.all(Array.from({ length: 20 }, () => passwordStep(user.id)));
      const statuses = (await Promise.all(waiting.map((cookie) => sendCode(cookie, user.recoveryCodes[3])))).map((res) => res.status);
      expect(count(statuses, 303)).to.equal(1);
      expect(count(statuses, 401) + count(statuses, 429)).to.equal(19);
    });

    it('five wrong codes end the waiting login: 303 to /user/login with a notice, and then even the right code does not finish it', async () => {
      const user = await enrolledUser();
      const waiting = await passwordStep(user.id);
      for (let i = 0; i < 4; i++) expect((await sendCode(waiting, '000000')).status).to.equal(401);
      const fifth = await sendCode(waiting, '000001');
      expect(fifth.status).to.equal(303);
      expect(fifth.headers.location).to.equal('/user/login');
      const notice = await request(app).get('/user/login').set('Cookie', noticeOf(fifth));
      expect(notice.text).to.include(ko('loginCode.ended'));
      const right = await sendCode(waiting, codeAt(user.secret, 1));
      expect(right.status).to.equal(303);
      expect(right.headers.location).to.equal('/user/login');
      expect(setCookies(right)).not.to.have.any.keys('accessToken', 'refreshToken');
    });

    it('in parallel: 20 wrong codes at once on one waiting login: at most 5 get 401, the rest see it ended, and the right code then does not finish it', async () => {
      const user = await enrolledUser();
      const waiting = await passwordStep(user.id);
      const ip = someIp();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => sendCode(waiting, String(100000 + i), ip)));
      const statuses = answers.map((res) => res.status);
      expect(count(statuses, 401)).to.be.at.most(5);
      expect(count(statuses, 401) + count(statuses, 303)).to.equal(20);
      for (const res of answers.filter((r) => r.status === 303)) expect(res.headers.location).to.equal('/user/login');
      const right = await sendCode(waiting, codeAt(user.secret, 1));
      expect(right.status).to.equal(303);
      expect(right.headers.location).to.equal('/user/login');
      expect(setCookies(right)).not.to.have.any.keys('accessToken', 'refreshToken');
    });

    it("one account's waiting login cannot be finished with another's code, nor moved to another account by editing the cookie", async () => {
      const [alice, bob] = await Promise.all([enrolledUser(), enrolledUser()]);
      const alicesWaiting = await passwordStep(alice.id);
      expect((await sendCode(alicesWaiting, codeAt(bob.secret, 1))).status).to.equal(401);
      expect((await sendCode(alicesWaiting, bob.recoveryCodes[0])).status).to.equal(401);
      // The cookie is signed: naming Bob in it breaks the signature, so there is no waiting login at all.
      const forged = alicesWaiting.replace(encodeURIComponent(alice.id), encodeURIComponent(bob.id));
      const moved = await sendCode(forged, codeAt(bob.secret, 1));
      expect(moved.status).to.equal(303);
      expect(moved.headers.location).to.equal('/user/login');
      expect(setCookies(moved)).not.to.have.any.keys('accessToken', 'refreshToken');
      // Bob's code was never accepted: it still logs Bob in.
      expect((await sendCode(await passwordStep(bob.id), codeAt(bob.secret, 1))).status).to.equal(303);
    });

    it('a waiting login expires (TTL ≤ 5 min): then 303 to /user/login with a notice; without one, GET and POST go to /user/login', async () => {
      const user = await enrolledUser();
      const waiting = await passwordStep(user.id);
      const [key] = await waitingKeys(user.id);
      expect(await redis.pTTL(key)).to.be.within(1, 300_000);
      await redis.pExpire(key, 1);
      // Within the same millisecond the key still exists: wait (with a deadline) until Redis has let it go.
      for (const deadline = Date.now() + 2000; (await redis.exists(key)) === 1 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 5));
      const page = await request(app).get('/user/login/2fa').set('Cookie', waiting);
      expect(page.status).to.equal(303);
      expect(page.headers.location).to.equal('/user/login');
      const post = await sendCode(waiting, codeAt(user.secret, 1));
      expect(post.status).to.equal(303);
      expect(post.headers.location).to.equal('/user/login');
      expect((await request(app).get('/user/login').set('Cookie', noticeOf(post))).text).to.include(ko('loginCode.ended'));
      const none = await request(app).get('/user/login/2fa');
      expect([none.status, none.headers.location]).to.deep.equal([303, '/user/login']);
      const noneAtAll = await postTo(app, '/user/login/2fa').send({ code: '123456' });
      expect([noneAtAll.status, noneAtAll.headers.location]).to.deep.equal([303, '/user/login']);
    });

    it('wrong codes count as failed logins of the id from that network (the right password resets nothing): then 429, at both steps', async () => {
      const user = await enrolledUser();
      const ip = someIp();
      const startedElsewhere = await passwordStep(user.id);
      for (let i = 0; i < 5; i++) {
        const waiting = await passwordStep(user.id, { ip });
        expect((await sendCode(waiting, '000000', ip)).status).to.equal(401);
      }
      const login = await postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id: user.id, password: PASSWORD });
      expect(login.status).to.equal(429);
      const code = await sendCode(startedElsewhere, codeAt(user.secret, 1), ip);
      expect(code.status).to.equal(429);
      expect(code.headers['retry-after']).to.match(/^\d+$/);
      // From another network the account still logs in, and that code was never used.
      expect((await sendCode(await passwordStep(user.id), codeAt(user.secret, 1))).status).to.equal(303);
    });

    it('in parallel: 30 waiting logins from 30 networks, one wrong code each: exactly LOGIN_MAX_FAILURES×2 = 10 get 401, the rest 429; then the account is throttled everywhere', async () => {
      const user = await enrolledUser();
      const waitings = await Promise.all(Array.from({ length: 31 }, () => passwordStep(user.id)));
      const answers = await Promise.all(waitings.slice(1).map((waiting, i) => sendCode(waiting, String(100000 + i))));
      const statuses = answers.map((res) => res.status);
      expect(count(statuses, 401), statuses.join()).to.equal(10);
      expect(count(statuses, 429), statuses.join()).to.equal(20);
      for (const res of answers.filter((r) => r.status === 429)) {
        expect(res.headers['retry-after']).to.match(/^\d+$/);
        expect(res.text).to.include(ko('throttle.wait', { minutes: 15 }));
      }
      // The right code from a fresh network, and a new waiting login (in English), are throttled too.
      const right = await sendCode(waitings[0], codeAt(user.secret, 1));
      expect(right.status).to.equal(429);
      expect(setCookies(right)).not.to.have.any.keys('accessToken', 'refreshToken');
      const again = await postTo(app, '/user/login', 'lang=en').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD });
      expect(again.status).to.equal(429);
      expect(again.headers['retry-after']).to.match(/^\d+$/);
      expect(again.text).to.include(en('throttle.wait', { minutes: 15 }));
      expect(setCookies(again)).not.to.have.any.keys(WAITING, 'accessToken', 'refreshToken');
    });

    it('a right code clears the account’s count of wrong codes', async () => {
      const user = await enrolledUser();
      for (let i = 0; i < 9; i++) expect((await sendCode(await passwordStep(user.id), '000000')).status).to.equal(401);
      expect((await sendCode(await passwordStep(user.id), codeAt(user.secret, 1))).status).to.equal(303);
      for (let i = 0; i < 2; i++) expect((await sendCode(await passwordStep(user.id), '000000')).status).to.equal(401);
    });

    it('JSON: the password step answers 401 { secondFactor: "totp" } with the waiting cookie; the code step 200 { success: true } with both cookies', async () => {
      const user = await enrolledUser();
      const first = await postTo(app, '/user/login')
        .set('X-Forwarded-For', someIp())
        .set('Accept', 'application/json')
        .send({ id: user.id, password: PASSWORD });
      expect(first.status).to.equal(401);
      expect(first.body).to.deep.equal({ success: false, msg: ko('loginCode.needed'), errors: {}, secondFactor: 'totp' });
      expect(setCookies(first)).to.have.property(WAITING).and.not.to.have.any.keys('accessToken', 'refreshToken');
      const waiting = cookieOf(WAITING, setCookies(first)[WAITING].value);
      const wrong = await sendCode(waiting, '000000').set('Accept', 'application/json');
      expect(wrong.status).to.equal(401);
      expect(wrong.body).to.deep.equal({ success: false, msg: ko('loginCode.wrong'), errors: { code: ko('loginCode.wrong') } });
      const right = await sendCode(waiting, codeAt(user.secret, 1)).set('Accept', 'application/json');
      expect(right.status).to.equal(200);
      expect(right.body).to.deep.equal({ success: true });
      expect(isLoggedIn(await getInfo(app, tokensOf(right)))).to.equal(true);
    });

    it('a password change while the login waits ends it: the right code then gets what an ended waiting login gets (303 to /user/login, a notice), no cookie', async () => {
      const user = await enrolledUser();
      const waiting = await passwordStep(user.id);
      await createUserModel(db).changePassword(user.id, await createPasswords(1).hash('a new password of its own'));
      const res = await sendCode(waiting, codeAt(user.secret, 1));
      expect([res.status, res.headers.location]).to.deep.equal([303, '/user/login']);
      expect(setCookies(res)).not.to.have.any.keys('accessToken', 'refreshToken');
      expect(setCookies(res)[WAITING].value).to.equal('');
      expect((await request(app).get('/user/login').set('Cookie', noticeOf(res))).text).to.include(ko('loginCode.ended'));
      expect(await waitingKeys(user.id)).to.deep.equal([]);
    });

    it('a locked account with TOTP: the right password gets 403 and the locked page, and no login waits for a code', async () => {
      const user = await enrolledUser();
      await createUserModel(db).setLocked(user.id, true);
      const res = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD });
      expect(res.status).to.equal(403);
      expect(res.text).to.include(ko('login.locked'));
      expect(setCookies(res)).not.to.have.any.keys(WAITING, 'accessToken', 'refreshToken');
      expect(await waitingKeys(user.id)).to.deep.equal([]);
    });

    it('a lock while the login waits: the right code then gets 403 and no cookie', async () => {
      const user = await enrolledUser();
      const waiting = await passwordStep(user.id);
      await db.query('UPDATE users SET locked_at = CURRENT_TIMESTAMP WHERE id = ?', [user.id]);
      const res = await sendCode(waiting, codeAt(user.secret, 1));
      expect(res.status).to.equal(403);
      expect(setCookies(res)).not.to.have.any.keys('accessToken', 'refreshToken');
    });
  });

  it('a password login under way when TOTP is turned on does not finish: the account read at its start is no longer `unchanged`', async () => {
    const users = createUserModel(db);
    const user = await loggedInUser(app);
    const readAtStart = (await users.findById(user.id))!;
    expect(readAtStart.hasTotp).to.equal(false);
    expect(await users.unchanged(readAtStart)).to.equal(true);
    const secret = secretOnPage((await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text)!;
    expect((await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: codeAt(secret, 0) })).status).to.equal(200);
    expect(await users.unchanged(readAtStart)).to.equal(false);
    expect(await users.unchanged((await users.findById(user.id))!)).to.equal(true);
  });

  describe('POST /user/2fa/disable', () => {
    it('needs the password AND a code: either wrong is 400 and TOTP stays on; both right: off, 303 to /user/2fa with a notice, the codes gone', async () => {
      const user = await enrolledUser();
      const disable = (fields: Record<string, string>) => postTo(app, '/user/2fa/disable', cookieHeader(user)).set('X-Forwarded-For', someIp()).send(fields);
      const wrongPassword = await disable({ password: 'not my password', code: user.recoveryCodes[0] });
      expect(wrongPassword.status).to.equal(400);
      expect(wrongPassword.text).to.include(ko('confirm.wrongPassword'));
      const wrongCode = await disable({ password: PASSWORD, code: '000000' });
      expect(wrongCode.status).to.equal(400);
      expect(wrongCode.text).to.include(ko('twoFactor.wrongCode'));
      const noCode = await disable({ password: PASSWORD, code: '' });
      expect(noCode.status).to.equal(400);
      expect(noCode.text).to.include(ko('twoFactor.codeRequired'));
      expect((await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text).to.include(ko('twoFactor.codesLeft', { count: 10 }));

      const off = await disable({ password: PASSWORD, code: codeAt(user.secret, 1) });
      expect(off.status, off.text).to.equal(303);
      expect(off.headers.location).to.equal('/user/2fa');
      const page = await request(app)
        .get('/user/2fa')
        .set('Cookie', `${cookieHeader(user)}; ${noticeOf(off)}`);
      expect(page.text).to.include(ko('twoFactor.disabled')).and.include('id="totp-secret"');
      const [[{ codes }]] = await db.query<RowDataPacket[]>(
        'SELECT COUNT(*) AS codes FROM recovery_codes JOIN users ON users.pk = recovery_codes.user_pk WHERE users.id = ?',
        [user.id],
      );
      expect(Number(codes)).to.equal(0);
      expect((await login(app, user.id)).accessToken).to.be.a('string');
    });

    it('wrong passwords count as failed logins (the reauth throttle): 429 after LOGIN_MAX_FAILURES, even with both right', async () => {
      const user = await enrolledUser();
      const ip = someIp();
      const disable = (password: string) =>
        postTo(app, '/user/2fa/disable', cookieHeader(user)).set('X-Forwarded-For', ip).send({ password, code: user.recoveryCodes[1] });
      const statuses = (await Promise.all(Array.from({ length: 20 }, () => disable('not my password')))).map((res) => res.status);
      expect(count(statuses, 400)).to.equal(5);
      expect(count(statuses, 429)).to.equal(15);
      expect((await disable(PASSWORD)).status).to.equal(429);
    });
  });

  it('in production the waiting-login cookie is __Host-, Secure, Path=/, without Domain', async () => {
    const { app: production } = await makeSite({ NODE_ENV: 'production', TRUST_PROXY: 'true' });
    const id = uniqueId();
    await register(production, { id });
    const res = await postTo(production, '/user/login').send({ id, password: PASSWORD });
    const auth = ['__Host-accessToken', '__Host-refreshToken'].map((name) => cookieOf(name, setCookies(res)[name].value)).join('; ');
    const secret = secretOnPage((await request(production).get('/user/2fa').set('Cookie', auth)).text)!;
    expect((await postTo(production, '/user/2fa/enable', auth).send({ code: codeAt(secret, 0) })).status).to.equal(200);
    const first = await postTo(production, '/user/login').set('X-Forwarded-For', someIp()).send({ id, password: PASSWORD });
    expect(first.status).to.equal(303);
    expect(setCookies(first)[`__Host-${WAITING}`].attributes)
      .to.match(/Secure/)
      .and.match(/HttpOnly/)
      .and.match(/SameSite=Strict/)
      .and.match(/Path=\//)
      .and.not.match(/Domain=/);
  });

  it('deleting the account deletes its recovery codes', async () => {
    const user = await enrolledUser();
    const [[{ pk }]] = await db.query<RowDataPacket[]>('SELECT pk FROM users WHERE id = ?', [user.id]);
    const res = await postTo(app, '/user/delete', cookieHeader(user))
      .set('X-Forwarded-For', someIp())
      .send({ password: PASSWORD, code: user.recoveryCodes[0] });
    expect(res.status, res.text).to.equal(303);
    const [[{ codes }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS codes FROM recovery_codes WHERE user_pk = ?', [pk]);
    expect(Number(codes)).to.equal(0);
  });

  it('every page and message in Korean and English, and the info page links to /user/2fa', async () => {
    const user = await enrolledUser();
    const waiting = await passwordStep(user.id);
    const fresh = await loggedInUser(app);
    for (const [lang, t] of [
      ['ko', ko],
      ['en', en],
    ] as const) {
      const info = await request(app).get(`/user/info?lang=${lang}`).set('Cookie', cookieHeader(fresh));
      expect(info.text).to.include(`<a href="/user/2fa"><span>${t('info.twoFactor')}</span> <strong class="state off">${t('security.off')}</strong></a>`);
      const setup = await request(app).get(`/user/2fa?lang=${lang}`).set('Cookie', cookieHeader(fresh));
      expect(setup.text)
        .to.include(`<html lang="${lang}">`)
        .and.include(`<title>${t('twoFactor.title')} · login-page</title>`);
      for (const key of ['twoFactor.offIntro', 'twoFactor.scan', 'twoFactor.manual', 'twoFactor.enable'] as const) expect(setup.text).to.include(t(key));
      const on = await request(app).get(`/user/2fa?lang=${lang}`).set('Cookie', cookieHeader(user));
      for (const key of ['twoFactor.onIntro', 'twoFactor.disable'] as const) expect(on.text).to.include(t(key));
      const form = await request(app).get(`/user/login/2fa?lang=${lang}`).set('Cookie', waiting);
      for (const key of ['loginCode.title', 'loginCode.intro', 'loginCode.useRecovery'] as const) expect(form.text).to.include(t(key));
    }
    expect(ko('twoFactor.title')).to.include('2단계 인증');
    expect(ko('twoFactor.scan')).to.include('인증 앱');
    expect(ko('twoFactor.recoveryCodes')).to.equal('복구 코드');
  });
});
