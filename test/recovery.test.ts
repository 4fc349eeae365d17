import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { RowDataPacket } from 'mysql2/promise';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import type { Db } from '../src/config/clients.js';
import { hashStats } from '../src/utils/password.js';
import { en, ko } from './helpers/i18n.js';
import { linkIn, siteWithMail, startSmtp, type Smtp } from './helpers/mail.js';
import {
  cookieHeader,
  expire,
  getInfo,
  isLoggedIn,
  login,
  makeSite,
  PASSWORD,
  postTo,
  refusedWithin,
  register,
  setCookies,
  uniqueId,
  type App,
} from './helpers/site.js';

const NEW_PASSWORD = 'a brand new passphrase';
const addressOf = (id: string) => `${id}@mail.example`;
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/** The page without what differs between any two answers (the CSRF token and its meta tag). */
const samePage = (text: string) => text.replace(/value="[^"]+"/g, '').replace(/content="[^"]+"/g, '');

/** An account with a verified address (set in MySQL: the link's flow is tested in emailAddress.test.ts). */
async function verifiedAccount(app: App, db: Db, id = uniqueId()) {
  await register(app, { id });
  await db.query('UPDATE users SET email = ? WHERE id = ?', [addressOf(id), id]);
  return id;
}

const forgot = (app: App, login: string, { ip = someIp(), lang = 'ko' } = {}) =>
  postTo(app, '/user/forgot', `lang=${lang}`).set('X-Forwarded-For', ip).send({ login });
const resetMails = async (db: Db) => Number((await db.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'resetLink'"))[0][0].n);

describe('forgot and reset: a link by mail, the same answer and the same time whether or not an account matches', function () {
  this.timeout(90_000);
  let smtp: Smtp;
  let app: App;
  let db: Db;
  let stopSender: () => Promise<void>;
  before(async () => {
    smtp = await startSmtp();
    const site = await siteWithMail({ TRUST_PROXY: 'true' }, smtp);
    ({ app, db } = site);
    stopSender = () => site.sender.stop();
  });
  after(async () => {
    await stopSender();
    await smtp.stop();
  });

  const resetLinkFor = (id: string, n = 1) => smtp.linkTo(addressOf(id), '/user/reset', n);
  const tokenOf = (link: URL) => link.searchParams.get('token')!;
  const reset = (token: string, password = NEW_PASSWORD, cookie = '') =>
    postTo(app, '/user/reset', cookie).send({ token, password, confirmPassword: password });

  it('by id and by email (in any case): one mail each, in the page’s language, with a /user/reset link; the page is the same 200', async () => {
    const [byId, byEmail] = [await verifiedAccount(app, db), await verifiedAccount(app, db)];
    const answers = [await forgot(app, byId, { lang: 'en' }), await forgot(app, addressOf(byEmail).toUpperCase(), { lang: 'en' })];
    expect(answers.map((res) => res.status)).to.deep.equal([200, 200]);
    expect(samePage(answers[0].text)).to.equal(samePage(answers[1].text));
    expect(answers[0].text)
      .to.include(en('forgot.sentHeading'))
      .and.include(en('forgot.sent', { minutes: 30 }));
    for (const id of [byId, byEmail]) {
      const [mail] = await smtp.waitFor(addressOf(id));
      expect(mail.subject).to.equal(en('email.resetLink.subject'));
      expect(mail.text).to.include(en('email.resetLink.intro', { id, site: new URL(linkIn(mail, '/user/reset').href).host, minutes: 30 }));
      expect(tokenOf(linkIn(mail, '/user/reset'))).to.match(/^[A-Za-z0-9_-]{43}$/);
    }
    const json = await forgot(app, byId).set('Accept', 'application/json');
    expect([json.status, json.body]).to.deep.equal([200, { success: true }]);
  });

  it('an unknown id, an unknown address, an unverified address, an account without one: the same page, and no mail', async () => {
    const known = await verifiedAccount(app, db);
    const unverified = uniqueId();
    await register(app, { id: unverified });
    await db.query('UPDATE users SET email_pending = ? WHERE id = ?', [addressOf(unverified), unverified]);
    const without = uniqueId();
    await register(app, { id: without });
    const before = await resetMails(db);
    const matching = await forgot(app, known);
    const others = [uniqueId(), addressOf(uniqueId()), addressOf(unverified), unverified, without, 'not even an id'];
    for (const login of others) {
      const res = await forgot(app, login);
      expect(res.status, login).to.equal(200);
      expect(samePage(res.text), login).to.equal(samePage(matching.text));
    }
    await smtp.waitFor(addressOf(known));
    expect(await resetMails(db), 'outbox rows written').to.equal(before + 1);
    await sleep(500);
    expect(smtp.to(addressOf(unverified))).to.deep.equal([]);
    const [[{ links }]] = await db.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS links FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id IN (?, ?)',
      [unverified, without],
    );
    expect(Number(links)).to.equal(0);
  });

  it('in the same time: the median of 8 ratios of a matching to a non-matching request is within 0.6–1/0.6', async () => {
    // A site with no sender: deliveries would run beside the measured requests.
    const { app: quiet, db: quietDb } = await makeSite({ HASH_CONCURRENCY: '4' });
    const accounts = await Promise.all(Array.from({ length: 26 }, () => verifiedAccount(quiet, quietDb)));
    const timed = async (login: string) => {
      const started = process.hrtime.bigint();
      const res = await forgot(quiet, login);
      expect(res.status).to.equal(200);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    // Each response time is the median of 3 requests, so that one slow request (a GC pause, another process) decides no ratio.
    const timeOf = async (logins: string[]) => {
      const times: number[] = [];
      for (const login of logins) times.push(await timed(login));
      return median(times);
    };
    const unknown = () => Array.from({ length: 3 }, () => uniqueId());
    await timeOf([...accounts.slice(24), ...unknown()]); // warm-up
    const pairs: [number, number][] = [];
    for (let i = 0; i < 8; i++) {
      const matching = accounts.slice(3 * i, 3 * i + 3);
      // Which goes first alternates, so that neither always meets a warmer server.
      if (i % 2) {
        const match = await timeOf(matching);
        pairs.push([match, await timeOf(unknown())]);
      } else {
        const miss = await timeOf(unknown());
        pairs.push([await timeOf(matching), miss]);
      }
    }
    const ratios = pairs.map(([match, miss]) => match / miss);
    const shown = pairs.map(([match, miss]) => `${match.toFixed(1)}/${miss.toFixed(1)}`);
    console.log(
      `      (matching/non-matching ms: ${shown.join(', ')}; ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)})`,
    );
    expect(median(ratios)).to.be.within(0.6, 1 / 0.6);
  });

  it('the link works once: of 20 parallel posts exactly one 303 (and only it hashes); every session ends (another instance refuses the access token within 1 s); the address is told; a notice on the login page', async () => {
    const id = await verifiedAccount(app, db);
    const sessions = [await login(app, id), await login(app, id)];
    // Another instance: a site with a listening connection of its own.
    const other = (await makeSite()).app;
    for (const tokens of sessions) expect(isLoggedIn(await getInfo(other, tokens))).to.equal(true);
    await forgot(app, id);
    const token = tokenOf(await resetLinkFor(id));
    const form = await request(app).get(`/user/reset?token=${token}&lang=en`);
    expect(form.status).to.equal(200);
    expect(form.text)
      .to.include(`<input type="hidden" name="token" value="${token}">`)
      .and.include(en('reset.intro', { id }))
      .and.match(/<input id="password" name="password" type="password" autocomplete="new-password"/);

    const hashesBefore = hashStats.started;
    const answers = await Promise.all(Array.from({ length: 20 }, () => reset(token)));
    // The link is claimed before any hashing: only the post that holds it checks and hashes a password.
    expect(hashStats.started - hashesBefore, 'argon2 operations').to.equal(2);
    const statuses = answers.map((res) => res.status);
    expect([statuses.filter((s) => s === 303).length, statuses.filter((s) => s === 400).length], JSON.stringify(statuses)).to.deep.equal([1, 19]);
    const done = answers.find((res) => res.status === 303)!;
    expect(done.headers.location).to.equal('/user/login');
    expect(answers.find((res) => res.status === 400)!.text)
      .to.include(ko('reset.invalid'))
      .and.include('href="/user/forgot"');

    for (const tokens of sessions) {
      await refusedWithin(other, tokens, 1000);
      expect(isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }))).to.equal(false);
    }
    const notice = `notice=${encodeURIComponent(setCookies(done).notice.value)}`;
    expect((await request(app).get('/user/login').set('Cookie', notice)).text).to.include(ko('reset.done'));
    expect((await postTo(app, '/user/login').send({ id, password: PASSWORD })).status).to.equal(401);
    await login(app, id, NEW_PASSWORD);
    expect((await smtp.waitFor(addressOf(id), 2))[1].subject).to.equal(ko('email.passwordReset.subject'));
    expect((await reset(token, 'yet another passphrase')).status, 'spent').to.equal(400);
  });

  it('void after RESET_TOKEN_TTL (30 min: the stored expiry moved back) and after the password changed another way; never the current password', async () => {
    const id = await verifiedAccount(app, db);
    await forgot(app, id);
    const token = tokenOf(await resetLinkFor(id));
    const [[{ minutes }]] = await db.query<RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(SECOND, NOW(3), t.expires_at) / 60 AS minutes FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ?',
      [id],
    );
    expect(Number(minutes)).to.be.within(29.9, 30);

    const same = await reset(token, PASSWORD, 'lang=en');
    expect(same.status).to.equal(400);
    expect(same.text).to.include(`id="password-error">${en('password.sameAsCurrent')}</p>`);
    expect(same.text, 'the language link keeps the link').to.include(`href="/user/reset?token=${token}&amp;lang=ko"`);
    expect((await request(app).get(`/user/reset?token=${token}`)).status, 'a refused post does not spend the link').to.equal(200);

    await db.query('UPDATE account_tokens t JOIN users u ON u.pk = t.user_pk SET t.expires_at = NOW(3) - INTERVAL 1 SECOND WHERE u.id = ?', [id]);
    const late = await request(app).get(`/user/reset?token=${token}`);
    expect(late.status).to.equal(400);
    expect(late.text).to.include(ko('reset.invalid')).and.include('href="/user/forgot"');
    expect((await reset(token)).status).to.equal(400);

    await forgot(app, id);
    const second = tokenOf(await resetLinkFor(id, 2));
    const user = await login(app, id);
    const changed = await postTo(app, '/user/password', cookieHeader(user)).send({
      currentPassword: PASSWORD,
      password: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
    });
    expect(changed.status).to.equal(303);
    expect((await request(app).get(`/user/reset?token=${second}`)).status).to.equal(400);
    expect((await reset(second, 'yet another passphrase')).status).to.equal(400);
    await login(app, id, NEW_PASSWORD);

    for (const bad of ['', 'short', 'x'.repeat(43)]) expect((await request(app).get(`/user/reset?token=${bad}`)).status, bad).to.equal(400);
    expect((await request(app).get('/user/reset')).status).to.equal(400);
  });

  it('a reset is no second factor: an account with TOTP still asks for its code at the next login', async () => {
    const id = await verifiedAccount(app, db);
    const user = await login(app, id);
    const secret = /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(
      (await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text,
    )![1];
    const enabled = await postTo(app, '/user/2fa/enable', cookieHeader(user)).send({ code: TOTP.generate({ secret: Secret.fromBase32(secret) }) });
    expect(enabled.status).to.equal(200);
    await forgot(app, id);
    expect((await reset(tokenOf(await resetLinkFor(id)))).status).to.equal(303);
    const next = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id, password: NEW_PASSWORD });
    expect([next.status, next.headers.location]).to.deep.equal([303, '/user/login/2fa']);
    expect(setCookies(next)).not.to.have.any.keys('accessToken', 'refreshToken');
  });

  it('limits under parallel bursts: RESET_MAX_PER_IP (10) requests per network an hour, then 429; at most 3 mails an account an hour, however named', async () => {
    const strict = await siteWithMail({ TRUST_PROXY: 'true', RESET_MAX_PER_IP: '10' }, smtp);
    try {
      const ip = someIp();
      const burst = await Promise.all(Array.from({ length: 20 }, () => forgot(strict.app, uniqueId(), { ip })));
      const statuses = burst.map((res) => res.status);
      expect([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 429).length]).to.deep.equal([10, 10]);
      expect(burst.find((res) => res.status === 429)!.headers['retry-after']).to.match(/^\d+$/);

      const id = await verifiedAccount(app, db);
      const names = [id, id.toUpperCase(), addressOf(id), addressOf(id).toUpperCase()];
      const named = await Promise.all(Array.from({ length: 30 }, (_, i) => forgot(app, names[i % names.length])));
      expect(named.map((res) => res.status)).to.deep.equal(Array(30).fill(200));
      await smtp.waitFor(addressOf(id), 3);
      await sleep(1000);
      expect(smtp.to(addressOf(id))).to.have.length(3);
    } finally {
      await strict.sender.stop();
    }
  });
});
