import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import type { RowDataPacket } from 'mysql2/promise';
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
  setCookies,
  type App,
  type Tokens,
} from './helpers/site.js';
import { en, ko } from './helpers/i18n.js';
import { createDb, type Db } from '../src/config/clients.js';
import { expectUnavailable } from './helpers/outage.js';
import { testStores } from './helpers/stores.js';

const NEW_PASSWORD = 'a brand new passphrase 42';
const MAX_FAILURES = 5;

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;
/** A made-up client address (the site trusts X-Forwarded-For here), so each test has failure counters of its own. */
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const sidOf = (accessToken: string) => (jwt.decode(accessToken) as { sid: string }).sid;
/** The refresh token alone can no longer log in (the access token is expired on purpose: case 3). */
const refreshWorks = async (app: App, tokens: Tokens) =>
  isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }));
const fieldError = (text: string, field: string, message: string) => text.includes(`<p class="field-error" id="${field}-error">${message}</p>`);

describe('account: change password and delete account', function () {
  this.timeout(30_000);
  let app: App;
  let db: Db;
  before(async () => ({ app, db } = await makeSite({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_FAILURE_WINDOW: '15m' })));

  const changePassword = (tokens: Partial<Tokens>, ip: string, fields: Record<string, string> = {}) =>
    postTo(app, '/user/password', cookieHeader(tokens))
      .set('X-Forwarded-For', ip)
      .send({ currentPassword: PASSWORD, password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, ...fields });
  const deleteAccount = (tokens: Partial<Tokens>, ip: string, password = PASSWORD) =>
    postTo(app, '/user/delete', cookieHeader(tokens)).set('X-Forwarded-For', ip).send({ password });
  const tryLogin = (id: string, password: string, ip = someIp()) => postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id, password });
  const accountExists = async (id: string) => (await db.query<RowDataPacket[]>('SELECT 1 FROM users WHERE id = ?', [id]))[0].length === 1;

  describe('pages', () => {
    it('not logged in: the pages send the visitor to log in and come back (303), a POST changes nothing, JSON gets 401', async () => {
      for (const path of ['/user/password', '/user/delete']) {
        const page = await request(app).get(`${path}?lang=en`);
        expect(page.status, path).to.equal(303);
        expect(page.headers.location).to.equal(`/user/login?next=${path}%3Flang%3Den`);
        const post = await postTo(app, path).send({ currentPassword: PASSWORD, password: PASSWORD });
        expect(post.status, path).to.equal(303);
        expect(post.headers.location).to.equal('/user/login');
        const json = await postTo(app, path).set('Accept', 'application/json').send({ password: PASSWORD });
        expect(json.status).to.equal(401);
        expect(json.body).to.deep.equal({ success: false, msg: ko('auth.loginRequired'), errors: {} });
      }
    });

    it('GET /user/password: the three fields with labels and autocomplete, a CSRF token, no-store, in both languages', async () => {
      const user = await loggedInUser(app);
      for (const [lang, t] of [
        ['ko', ko],
        ['en', en],
      ] as const) {
        const res = await request(app).get(`/user/password?lang=${lang}`).set('Cookie', cookieHeader(user));
        expect(res.status).to.equal(200);
        expect(res.headers['cache-control']).to.equal('no-store');
        expect(res.text)
          .to.include(`<html lang="${lang}">`)
          .and.include(`<title>${t('password.title')} · login-page</title>`);
        expect(res.text).to.match(/<input type="hidden" name="_csrf" value="[^"]+">/);
        const inputs: Array<[string, string, string]> = [
          ['currentPassword', t('password.current'), 'current-password'],
          ['password', t('password.new'), 'new-password'],
          ['confirmPassword', t('password.confirm'), 'new-password'],
        ];
        for (const [name, label, autocomplete] of inputs) {
          expect(res.text).to.include(`<label for="${name}">${label}</label>`);
          expect(res.text).to.match(new RegExp(`<input id="${name}" name="${name}" type="password" autocomplete="${autocomplete}"`));
        }
      }
    });

    it('GET /user/delete: says what is lost, asks for the password, in both languages', async () => {
      const user = await loggedInUser(app);
      for (const [lang, t] of [
        ['ko', ko],
        ['en', en],
      ] as const) {
        const res = await request(app).get('/user/delete').set('Cookie', cookieHeader(user)).set('Accept-Language', lang);
        expect(res.status).to.equal(200);
        expect(res.headers['cache-control']).to.equal('no-store');
        expect(res.text).to.include(`<title>${t('delete.title')} · login-page</title>`);
        for (const key of ['delete.intro', 'delete.lossAccount', 'delete.lossSessions', 'delete.lossId'] as const) expect(res.text).to.include(t(key));
        expect(res.text).to.match(/<input id="password" name="password" type="password" autocomplete="current-password"/);
        expect(res.text).to.match(/<input type="hidden" name="_csrf" value="[^"]+">/);
      }
    });

    it('both POSTs need the CSRF token and a same-site origin (403), and then nothing changes', async () => {
      const user = await loggedInUser(app);
      const cookie = cookieHeader(user);
      const body = { currentPassword: PASSWORD, password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD };
      for (const path of ['/user/password', '/user/delete']) {
        const noToken = await request(app).post(path).set('Cookie', cookie).type('form').send(body);
        expect(noToken.status, path).to.equal(403);
        const crossSite = await postTo(app, path, cookie).set('Origin', 'https://evil.example').send(body);
        expect(crossSite.status, path).to.equal(403);
      }
      expect(await accountExists(user.id)).to.equal(true);
      expect((await tryLogin(user.id, PASSWORD)).status).to.equal(303);
      expect(isLoggedIn(await getInfo(app, user))).to.equal(true);
    });
  });

  describe('POST /user/password', () => {
    it('success: 303 to /user/info with a notice, a new session for this browser, every other session ended, the new password in force', async () => {
      const user = await loggedInUser(app);
      const other = await login(app, user.id);
      const res = await changePassword(user, someIp());
      expect(res.status, res.text).to.equal(303);
      expect(res.headers.location).to.equal('/user/info');

      const cookies = setCookies(res);
      const fresh: Tokens = { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value };
      expect(sidOf(fresh.accessToken)).not.to.be.oneOf([sidOf(user.accessToken), sidOf(other.accessToken)]);
      expect(cookies.accessToken.attributes)
        .to.match(/HttpOnly/)
        .and.match(/SameSite=Strict/);
      const info = await getInfo(app, fresh).set('Cookie', `${cookieHeader(fresh)}; notice=${encodeURIComponent(cookies.notice.value)}`);
      expect(isLoggedIn(info)).to.equal(true);
      expect(info.text).to.include(ko('password.changed'));
      expect(await refreshWorks(app, fresh)).to.equal(true);

      // The other device and this browser's replaced session: access tokens within 1 s, refresh tokens at once.
      await Promise.all([refusedWithin(app, other, 1000), refusedWithin(app, user, 1000)]);
      expect(await refreshWorks(app, other)).to.equal(false);
      expect(await refreshWorks(app, user)).to.equal(false);

      expect((await tryLogin(user.id, PASSWORD)).status).to.equal(401);
      expect((await tryLogin(user.id, NEW_PASSWORD)).status).to.equal(303);
    });

    it('a password change drops the TOTP secret offered for enrolment: the page then shows a different one', async () => {
      const user = await loggedInUser(app);
      const secretOf = async (tokens: Tokens) =>
        /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec((await request(app).get('/user/2fa').set('Cookie', cookieHeader(tokens))).text)?.[1];
      const offered = await secretOf(user);
      expect(offered).to.match(/^[A-Z2-7]{32}$/);
      expect(await secretOf(user), 'the same until confirmed').to.equal(offered);
      const res = await changePassword(user, someIp());
      expect(res.status, res.text).to.equal(303);
      const after = await secretOf({ accessToken: setCookies(res).accessToken.value, refreshToken: setCookies(res).refreshToken.value });
      expect(after)
        .to.match(/^[A-Z2-7]{32}$/)
        .and.not.equal(offered);
    });

    it('JSON: 200 { success: true } with the new cookies', async () => {
      const user = await loggedInUser(app);
      const res = await changePassword(user, someIp()).set('Accept', 'application/json');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ success: true });
      expect(sidOf(setCookies(res).accessToken.value)).not.to.equal(sidOf(user.accessToken));
    });

    it("a wrong current password: 400 with the message on that field, in the person's language; nothing changes", async () => {
      const user = await loggedInUser(app);
      const other = await login(app, user.id);
      const ip = someIp();
      const korean = await changePassword(user, ip, { currentPassword: 'not my password' });
      expect(korean.status).to.equal(400);
      expect(fieldError(korean.text, 'currentPassword', ko('password.currentWrong'))).to.equal(true);
      expect(korean.text).not.to.include('not my password');
      const english = await changePassword(user, ip, { currentPassword: 'not my password' }).set('Accept-Language', 'en');
      expect(english.status).to.equal(400);
      expect(english.text).to.include('<html lang="en">');
      expect(fieldError(english.text, 'currentPassword', en('password.currentWrong'))).to.equal(true);
      const json = await postTo(app, '/user/password', `${cookieHeader(user)}; lang=en`)
        .set('X-Forwarded-For', ip)
        .set('Accept', 'application/json')
        .send({ currentPassword: 'not my password', password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
      expect(json.status).to.equal(400);
      expect(json.body).to.deep.equal({ success: false, msg: en('register.invalid'), errors: { currentPassword: en('password.currentWrong') } });

      expect(setCookies(korean)).not.to.have.property('accessToken');
      expect(isLoggedIn(await getInfo(app, other))).to.equal(true);
      expect(await refreshWorks(app, other)).to.equal(true);
      expect((await tryLogin(user.id, PASSWORD)).status).to.equal(303);
    });

    it('wrong current passwords count as failed logins of this id and network: 429 with Retry-After, then even for the right one and at login', async () => {
      const user = await loggedInUser(app);
      const ip = someIp();
      // Failures at the login form and at the password form share one count.
      expect((await tryLogin(user.id, 'not my password', ip)).status).to.equal(401);
      for (let i = 1; i < MAX_FAILURES; i++) expect((await changePassword(user, ip, { currentPassword: 'not my password' })).status).to.equal(400);
      const refused = await changePassword(user, ip);
      expect(refused.status).to.equal(429);
      expect(Number(refused.headers['retry-after'])).to.be.within(14 * 60, 15 * 60);
      expect(refused.text)
        .to.include(ko('throttle.wait', { minutes: 15 }))
        .and.include('name="currentPassword"');
      expect((await tryLogin(user.id, PASSWORD, ip)).status).to.equal(429);
      expect((await deleteAccount(user, ip)).status).to.equal(429);
      // From another network the account is not locked, and the password was never changed.
      expect((await tryLogin(user.id, PASSWORD)).status).to.equal(303);
    });

    it('the right current password resets the count, as a login does', async () => {
      const user = await loggedInUser(app);
      const ip = someIp();
      const wrongTimes = async (tokens: Partial<Tokens>, times: number) => {
        for (let i = 0; i < times; i++) expect((await changePassword(tokens, ip, { currentPassword: 'not my password' })).status).to.equal(400);
      };
      await wrongTimes(user, MAX_FAILURES - 1);
      const changed = await changePassword(user, ip);
      expect(changed.status).to.equal(303);
      const fresh = { accessToken: setCookies(changed).accessToken.value };
      await wrongTimes(fresh, MAX_FAILURES - 1);
      expect((await changePassword(fresh, ip, { currentPassword: NEW_PASSWORD, password: PASSWORD, confirmPassword: PASSWORD })).status).to.equal(303);
    });

    it('of 30 parallel wrong current passwords at most LOGIN_MAX_FAILURES reach the check (400), the rest get 429; the right one after them gets 429', async () => {
      const user = await loggedInUser(app);
      const ip = someIp();
      const guesses = Array.from({ length: 30 }, (_, i) => changePassword(user, ip, { currentPassword: `guess number ${i}` }));
      const statuses = (await Promise.all(guesses)).map((res) => res.status);
      expect(count(statuses, 400)).to.equal(MAX_FAILURES);
      expect(count(statuses, 400) + count(statuses, 429)).to.equal(30);
      expect((await changePassword(user, ip)).status).to.equal(429);
      expect((await tryLogin(user.id, NEW_PASSWORD)).status).to.equal(401);
    });

    it('the new password follows the registration rules: 400 with a message per field, and invalid forms cost no attempt', async () => {
      const user = await loggedInUser(app);
      const ip = someIp();
      const cases: Array<[Record<string, string>, string, string]> = [
        [{ password: 'short', confirmPassword: 'short' }, 'password', ko('register.passwordLength', { min: 8, max: 128 })],
        [{ password: user.id.toUpperCase(), confirmPassword: user.id.toUpperCase() }, 'password', ko('register.passwordSameAsId')],
        [{ password: 'Password1', confirmPassword: 'Password1' }, 'password', ko('register.passwordCommon')],
        [{ confirmPassword: 'something else entirely' }, 'confirmPassword', ko('register.passwordMismatch')],
        [{ currentPassword: '' }, 'currentPassword', ko('password.currentRequired')],
      ];
      for (const [fields, field, message] of [...cases, ...cases]) {
        const res = await changePassword(user, ip, fields);
        expect(res.status, field).to.equal(400);
        expect(fieldError(res.text, field, message), message).to.equal(true);
        expect(res.text).not.to.include(`value="${PASSWORD}"`);
      }
      const json = await changePassword(user, ip, { password: 'short', confirmPassword: 'short', currentPassword: '' })
        .set('Accept-Language', 'en')
        .set('Accept', 'application/json');
      expect(json.status).to.equal(400);
      expect(json.body.errors).to.deep.equal({
        password: en('register.passwordLength', { min: 8, max: 128 }),
        currentPassword: en('password.currentRequired'),
      });
      // Ten invalid forms later the limit is untouched.
      expect((await changePassword(user, ip)).status).to.equal(303);
    });
  });

  describe('POST /user/delete', () => {
    it('success: 303 to /user/login with a notice, cookies cleared, every session ended, the row gone, and the id free again', async () => {
      const user = await loggedInUser(app);
      const other = await login(app, user.id);
      const res = await deleteAccount(user, someIp());
      expect(res.status, res.text).to.equal(303);
      expect(res.headers.location).to.equal('/user/login');
      const cookies = setCookies(res);
      for (const name of ['accessToken', 'refreshToken']) {
        expect(cookies[name].value, name).to.equal('');
        expect(cookies[name].attributes, name).to.match(/Expires=Thu, 01 Jan 1970/);
      }
      const page = await request(app)
        .get('/user/login')
        .set('Cookie', `notice=${encodeURIComponent(cookies.notice.value)}`);
      expect(page.text).to.include(ko('delete.done'));

      expect(await accountExists(user.id)).to.equal(false);
      await Promise.all([refusedWithin(app, user, 1000), refusedWithin(app, other, 1000)]);
      expect(await refreshWorks(app, user)).to.equal(false);
      expect(await refreshWorks(app, other)).to.equal(false);
      expect((await tryLogin(user.id, PASSWORD)).status).to.equal(401);

      // Someone registers the id again: the old cookies do not open the new account.
      await register(app, { id: user.id, name: 'Newcomer', password: NEW_PASSWORD });
      expect((await tryLogin(user.id, NEW_PASSWORD)).status).to.equal(303);
      expect(isLoggedIn(await getInfo(app, user))).to.equal(false);
      expect(await refreshWorks(app, other)).to.equal(false);
    });

    it('JSON: 200 { success: true }, cookies cleared', async () => {
      const user = await loggedInUser(app);
      const res = await deleteAccount(user, someIp()).set('Accept', 'application/json');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ success: true });
      expect(setCookies(res).accessToken.value).to.equal('');
      expect(await accountExists(user.id)).to.equal(false);
    });

    it('a wrong or missing password: 400 with the message on the field, in both languages, and nothing is deleted', async () => {
      const user = await loggedInUser(app);
      const ip = someIp();
      const korean = await deleteAccount(user, ip, 'not my password');
      expect(korean.status).to.equal(400);
      expect(fieldError(korean.text, 'password', ko('delete.wrongPassword'))).to.equal(true);
      const english = await deleteAccount(user, ip, 'not my password').set('Accept-Language', 'en').set('Accept', 'application/json');
      expect(english.status).to.equal(400);
      expect(english.body).to.deep.equal({ success: false, msg: en('register.invalid'), errors: { password: en('delete.wrongPassword') } });
      const empty = await deleteAccount(user, ip, '');
      expect(empty.status).to.equal(400);
      expect(fieldError(empty.text, 'password', ko('login.passwordRequired'))).to.equal(true);

      expect(setCookies(korean)).not.to.have.property('accessToken');
      expect(await accountExists(user.id)).to.equal(true);
      expect(isLoggedIn(await getInfo(app, user))).to.equal(true);
      expect(await refreshWorks(app, user)).to.equal(true);
    });

    it('wrong passwords count as failed logins: after LOGIN_MAX_FAILURES, 429 even for the right one, and the account stays', async () => {
      const user = await loggedInUser(app);
      const ip = someIp();
      const statuses = (await Promise.all(Array.from({ length: 20 }, () => deleteAccount(user, ip, 'not my password')))).map((res) => res.status);
      expect(count(statuses, 400)).to.equal(MAX_FAILURES);
      expect(count(statuses, 400) + count(statuses, 429)).to.equal(20);
      const refused = await deleteAccount(user, ip);
      expect(refused.status).to.equal(429);
      expect(refused.headers['retry-after']).to.match(/^\d+$/);
      expect(refused.text).to.include(ko('throttle.wait', { minutes: 15 }));
      expect(await accountExists(user.id)).to.equal(true);
    });
  });

  describe('outages', () => {
    it('MySQL down: both answer 503 within a few seconds, cookies kept, and the attempts are given back (an outage locks no one)', async () => {
      const deadDb = createDb('mysql://nobody:x@127.0.0.1:1/none');
      try {
        const { app: down } = await makeSite(
          { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: String(MAX_FAILURES) },
          { db: deadDb, redis: (await testStores()).redis },
        );
        const user = await loggedInUser(app);
        const ip = someIp();
        const body = { currentPassword: PASSWORD, password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD };
        for (let i = 0; i < MAX_FAILURES; i++) {
          await expectUnavailable(postTo(down, '/user/password', cookieHeader(user)).set('X-Forwarded-For', ip).send(body));
          await expectUnavailable(postTo(down, '/user/delete', cookieHeader(user)).set('X-Forwarded-For', ip).send(body));
        }
        expect((await changePassword(user, ip)).status).to.equal(303);
      } finally {
        await deadDb.end();
      }
    });
  });
});
