import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { RowDataPacket } from 'mysql2/promise';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import type { Db, RedisClient } from '../src/config/clients.js';
import { createPasskeyModel } from '../src/models/passkeys.js';
import { createUserModel } from '../src/models/user.js';
import { en, ko } from './helpers/i18n.js';
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
  setCookies,
  type App,
  type Tokens,
} from './helpers/site.js';
import { redisKeyPrefix } from './helpers/stores.js';

const STEP_UP_MS = 1500;
const STEP_MS = 30_000;
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;
const codeAt = (secret: string, ahead: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + ahead * STEP_MS });
const secretOnPage = (text: string) => /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(text)?.[1];
const recoveryCodesOn = (text: string) => [...text.matchAll(/<code class="recovery-code">([A-Z2-7-]+)<\/code>/g)].map((m) => m[1]);
const sidOf = (tokens: Pick<Tokens, 'accessToken'>) => (jwt.decode(tokens.accessToken) as { sid: string }).sid;
/** Until the confirmation that every login gives has run out. */
const outlastConfirmation = () => sleep(STEP_UP_MS + 300);

interface Person extends Tokens {
  id: string;
}

describe("confirming it's you: a stolen session cannot change how the account is reached", function () {
  this.timeout(90_000);
  // Two sites on the same stores: `app` with the default STEP_UP_TTL (10 minutes), `brief` with 1.5 s, where a
  // session outlives its confirmation within a test.
  let app: App;
  let brief: App;
  let db: Db;
  let redis: RedisClient;
  let users: ReturnType<typeof createUserModel>;
  before(async () => {
    const env = { TRUST_PROXY: 'true', HASH_CONCURRENCY: '64' };
    ({ app, db, redis } = await makeSite(env));
    brief = (await makeSite({ ...env, STEP_UP_TTL: `${STEP_UP_MS}ms` })).app;
    users = createUserModel(db);
  });

  const page = (path: string, tokens: Partial<Tokens>, site = app) => request(site).get(path).set('Cookie', cookieHeader(tokens));
  const form = (path: string, tokens: Partial<Tokens>, { ip = someIp(), site = app } = {}) =>
    postTo(site, path, cookieHeader(tokens)).set('X-Forwarded-For', ip);
  const json = (path: string, tokens: Partial<Tokens>, options: { ip?: string; site?: App } = {}) =>
    form(path, tokens, options).set('Accept', 'application/json').type('json');

  /** A logged-in person whose TOTP is on (enrolled while the login's confirmation holds). */
  async function enrolled(): Promise<Person & { secret: string; recoveryCodes: string[] }> {
    const user = await loggedInUser(app);
    const secret = secretOnPage((await page('/user/2fa', user)).text)!;
    const on = await form('/user/2fa/enable', user).send({ code: codeAt(secret, 0) });
    expect(on.status, on.text).to.equal(200);
    return { ...user, secret, recoveryCodes: recoveryCodesOn(on.text) };
  }

  async function administrator(): Promise<Person> {
    const admin = await loggedInUser(app);
    await users.setAdmin(admin.id, true);
    return { id: admin.id, ...(await login(app, admin.id)) };
  }

  async function withPasskey(): Promise<Person & { credentialId: string }> {
    const user = await loggedInUser(app);
    const credentialId = randomBytes(16).toString('base64url');
    const passkey = {
      credentialId,
      userHandle: randomBytes(32).toString('base64url'),
      publicKey: randomBytes(77),
      counter: 0,
      transports: [],
      name: 'My phone',
    };
    expect(await createPasskeyModel(db, redis, redisKeyPrefix).add(user.id, passkey)).to.equal(true);
    return { ...user, credentialId };
  }

  const passkeyNames = async (userId: string) =>
    (await db.query<RowDataPacket[]>('SELECT p.name FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ?', [userId]))[0].map(
      (row) => row.name as string,
    );
  const recoveryCodesLeft = async (userId: string) =>
    Number(
      (
        await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM recovery_codes rc JOIN users u ON u.pk = rc.user_pk WHERE u.id = ? AND rc.used_at IS NULL', [
          userId,
        ])
      )[0][0].n,
    );

  /** Every guarded POST the contract lists, each for an account set up while its login still confirmed it. */
  async function guardedRequests() {
    const [owner, totp, keyed, admin, target] = await Promise.all([loggedInUser(app), enrolled(), withPasskey(), administrator(), loggedInUser(app)]);
    const secret = secretOnPage((await page('/user/2fa', owner)).text)!;
    const requests = [
      { who: owner, path: '/user/2fa/enable', body: () => ({ code: codeAt(secret, 0) }), back: '/user/2fa' },
      { who: totp, path: '/user/2fa/recovery-codes', body: () => ({}), back: '/user/2fa' },
      { who: totp, path: '/user/2fa/disable', body: () => ({ password: PASSWORD, code: totp.recoveryCodes[0] }), back: '/user/2fa' },
      { who: owner, path: '/user/passkeys/options', body: () => ({}), back: '/user/passkeys' },
      { who: owner, path: '/user/passkeys', body: () => ({ name: 'Thief', response: { id: 'x', response: {} } }), back: '/user/passkeys' },
      { who: keyed, path: '/user/passkeys/rename', body: () => ({ credentialId: keyed.credentialId, name: 'Thief' }), back: '/user/passkeys' },
      { who: keyed, path: '/user/passkeys/remove', body: () => ({ credentialId: keyed.credentialId }), back: '/user/passkeys' },
      ...['lock', 'unlock', 'revoke-sessions'].map((action) => ({
        who: admin,
        path: `/admin/users/${target.id}/${action}`,
        body: () => ({}),
        back: '/admin/users',
      })),
      { who: owner, path: '/user/email', body: () => ({ email: `${owner.id}@thief.example` }), back: '/user/email' },
      { who: owner, path: '/user/email/remove', body: () => ({}), back: '/user/email' },
      ...['reset-link', 'reset-second-factor', 'delete'].map((action) => ({
        who: admin,
        path: `/admin/users/${target.id}/${action}`,
        body: () => ({}),
        back: `/admin/users/${target.id}`,
      })),
    ];
    /** Nothing of any of these accounts changed. */
    const unchanged = async () => {
      expect((await users.findById(owner.id))!.hasTotp, 'TOTP stays off').to.equal(false);
      expect((await users.findById(totp.id))!.hasTotp, 'TOTP stays on').to.equal(true);
      expect(await recoveryCodesLeft(totp.id), 'the same recovery codes').to.equal(10);
      expect(await passkeyNames(keyed.id), 'the passkey stays, named as it was').to.deep.equal(['My phone']);
      expect(await passkeyNames(owner.id), 'no passkey added').to.deep.equal([]);
      expect((await users.findById(target.id))!.locked, 'the account stays unlocked').to.equal(false);
      expect((await users.findById(owner.id))!.email, 'no address proposed').to.equal(null);
      expect(isLoggedIn(await getInfo(app, target)), "the account's session lives").to.equal(true);
    };
    return { owner, totp, keyed, admin, target, secret, requests, unchanged };
  }

  it('from a session older than STEP_UP_TTL every guarded POST changes nothing: a form is sent to /user/confirm and back (303), JSON gets 403 with stepUp', async () => {
    const { requests, unchanged } = await guardedRequests();
    await outlastConfirmation();
    for (const { who, path, body, back } of requests) {
      const html = await form(path, who, { site: brief }).send(body());
      expect([html.status, html.headers.location], path).to.deep.equal([303, `/user/confirm?next=${back}`]);
      const answer = await json(path, who, { site: brief }).set('Accept-Language', 'en').send(body());
      expect([answer.status, answer.body], path).to.deep.equal([403, { success: false, msg: en('confirm.required'), errors: {}, stepUp: true }]);
    }
    await unchanged();
  });

  it('after /user/confirm (password) that session may, for STEP_UP_TTL; the account’s other sessions may not; then it runs out again', async () => {
    const { owner, secret, admin, target } = await guardedRequests();
    const ownersOtherSession = await login(app, owner.id);
    await outlastConfirmation();

    const confirmPage = await page('/user/confirm?next=/user/2fa', owner, brief);
    expect(confirmPage.status).to.equal(200);
    expect(confirmPage.headers['cache-control']).to.equal('no-store');
    expect(confirmPage.text)
      .to.include('<input type="hidden" name="next" value="/user/2fa">')
      .and.match(/<input id="password" name="password" type="password"/);
    expect(confirmPage.text).not.to.include('name="code"');
    const confirmed = await form('/user/confirm', owner, { site: brief }).send({ password: PASSWORD, next: '/user/2fa' });
    expect([confirmed.status, confirmed.headers.location]).to.deep.equal([303, '/user/2fa']);

    const enabled = await form('/user/2fa/enable', owner, { site: brief }).send({ code: codeAt(secret, 0) });
    expect(enabled.status, enabled.text).to.equal(200);
    expect(recoveryCodesOn(enabled.text)).to.have.length(10);
    // Enabling TOTP ended the other session anyway; the administrator's other session shows the per-session rule.
    const adminsOtherSession = await login(app, admin.id);
    await outlastConfirmation();
    expect((await json('/user/confirm', admin, { site: brief }).send({ password: PASSWORD })).body).to.deep.equal({ success: true });
    const locked = await json(`/admin/users/${target.id}/lock`, admin, { site: brief }).send({});
    expect([locked.status, locked.body]).to.deep.equal([200, { success: true }]);
    const fromOther = await json(`/admin/users/${target.id}/unlock`, adminsOtherSession, { site: brief }).send({});
    expect([fromOther.status, fromOther.body.stepUp]).to.deep.equal([403, true]);
    expect(isLoggedIn(await getInfo(app, ownersOtherSession))).to.equal(false);

    await outlastConfirmation();
    const late = await json(`/admin/users/${target.id}/unlock`, admin, { site: brief }).send({});
    expect([late.status, late.body.stepUp]).to.deep.equal([403, true]);
    expect((await users.findById(target.id))!.locked).to.equal(true);
  });

  it('a silent refresh does not extend the confirmation; a new login confirms its own session', async () => {
    const user = await loggedInUser(app);
    await outlastConfirmation();
    const refreshed = await getInfo(brief, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken });
    expect(isLoggedIn(refreshed)).to.equal(true);
    const rotated = { accessToken: setCookies(refreshed).accessToken.value, refreshToken: setCookies(refreshed).refreshToken.value };
    expect(sidOf(rotated)).to.equal(sidOf(user));
    expect((await json('/user/passkeys/options', rotated, { site: brief }).send({})).status).to.equal(403);
    const fresh = await login(brief, user.id);
    const options = await json('/user/passkeys/options', fresh, { site: brief }).send({});
    expect(options.status, options.text).to.equal(200);
  });

  it('the confirm page: both languages, `next` kept (a same-site path only), a code field with TOTP; a wrong password is 400 with the form again', async () => {
    const user = await enrolled();
    for (const [lang, t] of [
      ['ko', ko],
      ['en', en],
    ] as const) {
      const shown = await page(`/user/confirm?next=/user/2fa&lang=${lang}`, user);
      expect(shown.text)
        .to.include(`<html lang="${lang}">`)
        .and.include(`<title>${t('confirm.title').replace("'", '&#39;')} · login-page</title>`)
        .and.include(t('confirm.codeIntro'))
        .and.match(/<input id="code" name="code" type="text" autocomplete="one-time-code"/)
        .and.include(`href="?next=%2Fuser%2F2fa&amp;lang=${lang === 'ko' ? 'en' : 'ko'}"`);
    }
    const wrong = await form('/user/confirm', user).send({ password: 'not my password', code: codeAt(user.secret, 1), next: '/user/2fa' });
    expect(wrong.status).to.equal(400);
    expect(wrong.text)
      .to.include(ko('confirm.wrongPassword'))
      .and.include('<input type="hidden" name="next" value="/user/2fa">')
      .and.include('class="lang-switch" href="/user/confirm?next=%2Fuser%2F2fa&amp;lang=en"');
    const noCode = await form('/user/confirm', user).send({ password: PASSWORD, next: '/user/2fa' });
    expect(noCode.status).to.equal(400);
    expect(noCode.text).to.include(ko('twoFactor.codeRequired'));
    const wrongCode = await form('/user/confirm', user).send({ password: PASSWORD, code: '000000', next: '/user/2fa' });
    expect(wrongCode.status).to.equal(400);
    expect(wrongCode.text).to.include(ko('twoFactor.wrongCode'));
    const elsewhere = await form('/user/confirm', user).send({ password: PASSWORD, code: user.recoveryCodes[0], next: '//evil.example/' });
    expect([elsewhere.status, elsewhere.headers.location]).to.deep.equal([303, '/user/info']);
    expect((await page('/user/confirm', {})).headers.location).to.equal('/user/login?next=/user/confirm');
  });

  it('20 parallel wrong passwords at /user/confirm from one network: exactly LOGIN_MAX_FAILURES (5) are checked (400), 15 get 429; then even the right one is 429', async () => {
    const user = await loggedInUser(app);
    const ip = someIp();
    const statuses = (
      await Promise.all(Array.from({ length: 20 }, (_, i) => form('/user/confirm', user, { ip }).send({ password: `wrong password ${i}` })))
    ).map((res) => res.status);
    expect([count(statuses, 400), count(statuses, 429)]).to.deep.equal([5, 15]);
    const right = await form('/user/confirm', user, { ip }).send({ password: PASSWORD });
    expect(right.status).to.equal(429);
    expect(right.headers['retry-after']).to.match(/^\d+$/);
    // They are failed logins of this id from this network: the login form is refused too.
    expect((await postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id: user.id, password: PASSWORD })).status).to.equal(429);
  });

  it("wrong codes at /user/confirm, /user/2fa/disable, /user/password and /user/delete count toward the account's 10 (across networks): 30 in parallel → 10 × 400, 20 × 429, and the login's code step is 429 too", async () => {
    const user = await enrolled();
    const wrongCode = () => String((Number(codeAt(user.secret, 0)) + 500_000) % 1_000_000).padStart(6, '0');
    const newPassword = 'a brand new passphrase';
    const routes = [
      ['/user/confirm', { password: PASSWORD }],
      ['/user/2fa/disable', { password: PASSWORD }],
      ['/user/password', { currentPassword: PASSWORD, password: newPassword, confirmPassword: newPassword }],
      ['/user/delete', { password: PASSWORD }],
    ] as const;
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => form(routes[i % 4][0], user).send({ ...routes[i % 4][1], code: wrongCode() })));
    const statuses = answers.map((res) => res.status);
    expect([count(statuses, 400), count(statuses, 429)], JSON.stringify(statuses)).to.deep.equal([10, 20]);
    expect((await users.findById(user.id))!.hasTotp).to.equal(true);
    const loginStep = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD });
    expect(loginStep.status).to.equal(429);
  });

  it('the TOTP secret offered for enrolment belongs to the session that was shown it: another session gets another, and it ends with its session (the review’s finding 3)', async () => {
    const owner = await loggedInUser(app);
    const thief = { id: owner.id, ...(await login(app, owner.id)) };
    const thiefSecret = secretOnPage((await page('/user/2fa', thief)).text)!;
    expect(secretOnPage((await page('/user/2fa', thief)).text), 'the same on a reload').to.equal(thiefSecret);
    const ownerSecret = secretOnPage((await page('/user/2fa', owner)).text)!;
    expect(ownerSecret)
      .to.match(/^[A-Z2-7]{32}$/)
      .and.not.equal(thiefSecret);
    // The thief's copy cannot enable the owner's session, nor can the owner's code enable the thief's.
    expect((await form('/user/2fa/enable', owner).send({ code: codeAt(thiefSecret, 0) })).status).to.equal(400);
    // The owner ends the thief's session; a new login of the thief is offered a new secret.
    expect((await form('/user/sessions/revoke-others', owner).send({})).status).to.equal(303);
    expect(await redis.exists(`${redisKeyPrefix}session:{${owner.id}}:${sidOf(thief)}`)).to.equal(0);
    const thiefAgain = await login(app, owner.id);
    expect(secretOnPage((await page('/user/2fa', thiefAgain)).text)).not.to.equal(thiefSecret);
    // The owner enrols with the secret they were shown: the thief's old copy opens no login.
    expect((await form('/user/2fa/enable', owner).send({ code: codeAt(ownerSecret, 0) })).status).to.equal(200);
    const waiting = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: owner.id, password: PASSWORD });
    const waitingCookie = `waitingLogin=${encodeURIComponent(setCookies(waiting).waitingLogin.value)}`;
    const step = await postTo(app, '/user/login/2fa', waitingCookie)
      .set('X-Forwarded-For', someIp())
      .send({ code: codeAt(thiefSecret, 1) });
    expect(step.status).to.equal(401);
  });

  it('the offered secret is given up after 10 minutes: the page then offers a fresh one', async () => {
    const user = await loggedInUser(app);
    const first = secretOnPage((await page('/user/2fa', user)).text)!;
    const key = `${redisKeyPrefix}session:{${user.id}}:${sidOf(user)}`;
    const [kept] = await redis.hmGet(key, ['totpOffered']);
    await redis.hSet(key, 'totpOffered', kept!.replace(/^\d+/, String(Date.now() - 10 * 60_000 - 1)));
    const second = secretOnPage((await page('/user/2fa', user)).text)!;
    expect(second)
      .to.match(/^[A-Z2-7]{32}$/)
      .and.not.equal(first);
    expect((await form('/user/2fa/enable', user).send({ code: codeAt(first, 0) })).status).to.equal(400);
    expect((await form('/user/2fa/enable', user).send({ code: codeAt(second, 0) })).status).to.equal(200);
  });

  it('the password change refuses a new password equal to the current one (on its field, uncounted), and with TOTP asks for the code', async () => {
    const plain = await loggedInUser(app);
    const same = await form('/user/password', plain).send({ currentPassword: PASSWORD, password: PASSWORD, confirmPassword: PASSWORD });
    expect(same.status).to.equal(400);
    expect(same.text).to.match(new RegExp(`id="password-error">${ko('password.sameAsCurrent')}<`));

    const user = await enrolled();
    expect((await page('/user/password', user)).text).to.match(/<input id="code" name="code"/);
    const newPassword = 'a brand new passphrase';
    const change = (code?: string) =>
      form('/user/password', user).send({
        currentPassword: PASSWORD,
        password: newPassword,
        confirmPassword: newPassword,
        ...(code === undefined ? {} : { code }),
      });
    const missing = await change();
    expect([missing.status, missing.text.includes(ko('twoFactor.codeRequired'))]).to.deep.equal([400, true]);
    const wrong = await change('000000');
    expect([wrong.status, wrong.text.includes(ko('twoFactor.wrongCode'))]).to.deep.equal([400, true]);
    const right = await change(user.recoveryCodes[0]);
    expect([right.status, right.headers.location]).to.deep.equal([303, '/user/info']);
  });

  it('deleting an account with TOTP asks for the code too', async () => {
    const user = await enrolled();
    expect((await page('/user/delete', user)).text).to.match(/<input id="code" name="code"/);
    expect((await form('/user/delete', user).send({ password: PASSWORD })).status).to.equal(400);
    expect((await form('/user/delete', user).send({ password: PASSWORD, code: '000000' })).status).to.equal(400);
    expect(await users.findById(user.id)).to.not.equal(undefined);
    const deleted = await form('/user/delete', user).send({ password: PASSWORD, code: codeAt(user.secret, 1) });
    expect([deleted.status, deleted.headers.location]).to.deep.equal([303, '/user/login']);
    expect(await users.findById(user.id)).to.equal(undefined);
  });

  it('new recovery codes (confirmed): 10 new ones shown once, the old ones stop working, 20 parallel renewals leave exactly 10', async () => {
    const user = await enrolled();
    const renewed = await form('/user/2fa/recovery-codes', user).send({});
    expect(renewed.status, renewed.text).to.equal(200);
    expect(renewed.headers['cache-control']).to.equal('no-store');
    expect(renewed.text).to.include(ko('twoFactor.renewedHeading'));
    const fresh = recoveryCodesOn(renewed.text);
    expect(fresh).to.have.length(10);
    expect(fresh).not.to.include.members([user.recoveryCodes[0]]);
    const all = await Promise.all(Array.from({ length: 20 }, () => json('/user/2fa/recovery-codes', user).send({})));
    expect(all.map((res) => res.status)).to.deep.equal(Array(20).fill(200));
    expect(await recoveryCodesLeft(user.id)).to.equal(10);
    const waiting = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD });
    const cookie = `waitingLogin=${encodeURIComponent(setCookies(waiting).waitingLogin.value)}`;
    expect((await postTo(app, '/user/login/2fa', cookie).send({ code: user.recoveryCodes[0] })).status, 'an old code').to.equal(401);
    const [[{ total }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS total FROM recovery_codes rc JOIN users u ON u.pk = rc.user_pk WHERE u.id = ?', [
      user.id,
    ]);
    expect(Number(total), 'no renewal left codes of its own behind').to.equal(10);
  });
});
