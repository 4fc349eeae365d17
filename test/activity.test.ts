import { randomInt } from 'node:crypto';
import os from 'node:os';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { pino } from 'pino';
import type { RowDataPacket } from 'mysql2/promise';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import { adminCommand } from '../scripts/lib/admin.js';
import { connectAdmin } from '../scripts/lib/adminDb.js';
import type { Db } from '../src/config/clients.js';
import { createLogger, REDACT_PATHS } from '../src/config/logger.js';
import { createRefreshSessions } from '../src/models/refreshSessions.js';
import { createSecurityEventModel, type ActivityKind } from '../src/models/securityEvents.js';
import { createUserModel } from '../src/models/user.js';
import { createEndedSessions } from '../src/services/endedSessions.js';
import { createSecurityEvents } from '../src/services/securityEvents.js';
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
  register,
  setCookies,
  uniqueId,
  type App,
  type Tokens,
} from './helpers/site.js';
import { linkIn, siteWithMail, startSmtp, type Smtp } from './helpers/mail.js';
import { SoftAuthenticator } from './helpers/softAuthenticator.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';
import { until } from './helpers/until.js';

const HOST = 'login.example.com';
const ORIGIN = `http://${HOST}`;
const CHROME_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_ON_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const secretOnPage = (text: string) => /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(text)?.[1];
const recoveryCodesOn = (text: string) => [...text.matchAll(/<code class="recovery-code">([A-Z2-7-]+)<\/code>/g)].map((m) => m[1]);
const SESSION_LIMITS = { idleMs: 60_000, sharedIdleMs: 60_000, reuseGraceMs: 10_000, maxPerUser: 10 };
const ACCOUNT_CHANNEL = 'unheard';
const codeOf = (secret: string) => TOTP.generate({ secret: Secret.fromBase32(secret) });

interface Row {
  kind: ActivityKind;
  at: string;
  ip: string;
  device: string;
  actor: 'self' | 'admin' | 'system';
  admin?: string;
}
interface Person extends Tokens {
  id: string;
}

describe('security activity: one record of what happened, on the account’s page (/user/activity) and the administrators’ audit', function () {
  this.timeout(60_000);
  let app: App;
  let db: Db;
  let users: ReturnType<typeof createUserModel>;
  const model = () => createSecurityEventModel(db);
  before(async () => {
    ({ app, db } = await makeSite({ TRUST_PROXY: 'true', HASH_CONCURRENCY: '64', REFRESH_REUSE_GRACE: '1s' }));
    users = createUserModel(db);
  });

  const page = (path: string, tokens: Partial<Tokens>) => request(app).get(path).set('Cookie', cookieHeader(tokens));
  const form = (path: string, tokens: Partial<Tokens>, ip = someIp()) => postTo(app, path, cookieHeader(tokens)).set('X-Forwarded-For', ip);
  const json = (path: string, tokens: Partial<Tokens>) =>
    form(path, tokens).set('Host', HOST).set('Accept', 'application/json').set('Accept-Language', 'en').type('json');
  const activity = async (tokens: Partial<Tokens>, query = '') => {
    const res = await page(`/user/activity${query}`, tokens).set('Accept', 'application/json');
    expect(res.status, res.text).to.equal(200);
    return res.body as { events: Row[]; next: number | null };
  };
  /** What the account's record holds, newest first (read from the table: some accounts can no longer log in). */
  const recorded = async (userId: string) => (await model().ofAccount(userId, { since: new Date(0), page: 1, pageSize: 500 })).events;
  /** Waits for the event (written after the answer) and returns it. */
  async function eventOf(userId: string, kind: ActivityKind, count = 1) {
    await until(async () => (await recorded(userId)).filter((event) => event.kind === kind).length >= count, `${count} × ${kind} recorded for ${userId}`);
    return (await recorded(userId)).find((event) => event.kind === kind)!;
  }
  const kindsOf = async (userId: string) => (await recorded(userId)).map((event) => event.kind);

  async function administratorOf(site: App): Promise<Person> {
    const id = uniqueId();
    await register(site, { id, name: 'Admin' });
    await users.setAdmin(id, true);
    return { id, ...(await login(site, id)) };
  }
  const administrator = () => administratorOf(app);
  async function withTotp(): Promise<Person & { secret: string; recoveryCodes: string[] }> {
    const user = await loggedInUser(app);
    const secret = secretOnPage((await page('/user/2fa', user)).text)!;
    const on = await form('/user/2fa/enable', user).send({ code: codeOf(secret) });
    expect(on.status, on.text).to.equal(200);
    return { ...user, secret, recoveryCodes: recoveryCodesOn(on.text) };
  }

  describe('every kind, after the action that causes it, with who did it', () => {
    it('login: when, the IP, the device in words, by the person; the first login is not "a new device", one from another browser is', async () => {
      const id = uniqueId();
      await register(app, { id });
      const ip = someIp();
      const first = await postTo(app, '/user/login').set('X-Forwarded-For', ip).set('User-Agent', CHROME_ON_WINDOWS).send({ id, password: PASSWORD });
      expect(first.status).to.equal(303);
      const tokens = { accessToken: setCookies(first).accessToken.value, refreshToken: setCookies(first).refreshToken.value };
      await eventOf(id, 'login');
      const [row] = (await activity(tokens)).events;
      expect(row).to.deep.include({ kind: 'login', ip, actor: 'self' });
      expect(row.device)
        .to.match(/Chrome/)
        .and.match(/Windows/);
      expect(Date.now() - Date.parse(row.at)).to.be.within(0, 10_000);

      await postTo(app, '/user/login').set('User-Agent', SAFARI_ON_IPHONE).send({ id, password: PASSWORD });
      const newDevice = await eventOf(id, 'login_new_device');
      expect(newDevice.actor).to.deep.equal({ kind: 'self' });
      await postTo(app, '/user/login').set('User-Agent', SAFARI_ON_IPHONE).send({ id, password: PASSWORD });
      await eventOf(id, 'login', 2);
      expect(await kindsOf(id)).to.deep.equal(['login', 'login_new_device', 'login']);
    });

    it('failed login: a wrong password, a wrong code at the code step, a wrong password when confirming; an unknown id is recorded nowhere', async () => {
      const person = await withTotp();
      const ip = someIp();
      expect((await postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id: person.id.toUpperCase(), password: 'wrong password' })).status).to.equal(
        401,
      );
      const waiting = await postTo(app, '/user/login').send({ id: person.id, password: PASSWORD });
      expect(waiting.headers.location).to.equal('/user/login/2fa');
      const pending = Object.entries(setCookies(waiting)).map(([name, { value }]) => `${name}=${encodeURIComponent(value)}`);
      expect((await postTo(app, '/user/login/2fa', pending.join('; ')).send({ code: '000000' })).status).to.equal(401);
      expect((await form('/user/confirm', person).send({ password: 'not it', code: codeOf(person.secret), next: '/user/2fa' })).status).to.equal(400);
      await eventOf(person.id, 'login_failed', 3);
      const failed = (await activity(person)).events.filter((event) => event.kind === 'login_failed');
      expect(failed.map((event) => event.actor)).to.deep.equal(['self', 'self', 'self']);
      expect(failed.at(-1)!.ip).to.equal(ip);
      const html = (await page('/user/activity?lang=en', person)).text;
      expect(html).to.include(en('activity.detail.wrongPassword')).and.include(en('activity.detail.wrongCode'));

      const unknownIp = someIp();
      expect((await postTo(app, '/user/login').set('X-Forwarded-For', unknownIp).send({ id: uniqueId(), password: 'wrong password' })).status).to.equal(401);
      await sleep(300);
      const [[{ n }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM security_events WHERE ip = ?', [unknownIp]);
      expect(n, 'no row for an id nobody has').to.equal(0);
    });

    it('logout, and sessions ended: one (naming its device), all others (how many), one whose refresh token came back (by the site)', async () => {
      const person = await loggedInUser(app);
      const other = await postTo(app, '/user/login').set('User-Agent', SAFARI_ON_IPHONE).send({ id: person.id, password: PASSWORD });
      const otherTokens = { accessToken: setCookies(other).accessToken.value, refreshToken: setCookies(other).refreshToken.value };
      const sessions = (await page('/user/sessions', person).set('Accept', 'application/json')).body.sessions as { sid: string; current: boolean }[];
      const otherSid = sessions.find((session) => !session.current)!.sid;
      expect((await form('/user/sessions/revoke', person).send({ sid: otherSid })).status).to.equal(303);
      const one = await eventOf(person.id, 'session_ended');
      expect([one.actor, one.detail]).to.deep.equal([{ kind: 'self' }, SAFARI_ON_IPHONE]);
      expect((await page('/user/activity?lang=en', person)).text).to.match(/Session ended<\/strong> · <span class="event-detail">Safari 18 on iOS/);
      expect(isLoggedIn(await getInfo(app, otherTokens))).to.equal(false);

      await login(app, person.id);
      await login(app, person.id);
      expect((await form('/user/sessions/revoke-others', person).send({})).status).to.equal(303);
      const others = await eventOf(person.id, 'session_ended', 2);
      expect([others.actor, others.detail]).to.deep.equal([{ kind: 'self' }, '2']);

      // The refresh token used twice, past the grace: the site ends the session.
      const fresh = await login(app, person.id);
      const rotated = await getInfo(app, { accessToken: expire(fresh.accessToken), refreshToken: fresh.refreshToken });
      expect(isLoggedIn(rotated)).to.equal(true);
      await sleep(1_300);
      await getInfo(app, { accessToken: expire(fresh.accessToken), refreshToken: fresh.refreshToken });
      const reuse = await eventOf(person.id, 'session_ended', 3);
      expect([reuse.actor, reuse.detail]).to.deep.equal([{ kind: 'system' }, 'reuse']);

      await page('/user/logout', person);
      await eventOf(person.id, 'logout');
    });

    it('password changed', async () => {
      const person = await loggedInUser(app);
      const changed = await form('/user/password', person).send({
        currentPassword: PASSWORD,
        password: 'another horse battery',
        confirmPassword: 'another horse battery',
      });
      expect(changed.status, changed.text).to.equal(303);
      expect((await eventOf(person.id, 'password_changed')).actor).to.deep.equal({ kind: 'self' });
    });

    it('TOTP on, recovery codes renewed, a recovery code used, TOTP off', async () => {
      const person = await withTotp();
      await eventOf(person.id, 'totp_on');
      expect((await form('/user/2fa/recovery-codes', person).send({})).status).to.equal(200);
      await eventOf(person.id, 'recovery_codes_renewed');
      const codes = recoveryCodesOn((await form('/user/2fa/recovery-codes', person).send({})).text);
      const off = await form('/user/2fa/disable', person).send({ password: PASSWORD, code: codes[0] });
      expect(off.status, off.text).to.be.oneOf([200, 303]);
      await eventOf(person.id, 'totp_off');
      await eventOf(person.id, 'recovery_code_used');
      // One request's two events (the code used, TOTP off) are written side by side, in either order.
      expect((await kindsOf(person.id)).filter((kind) => kind !== 'login')).to.have.members([
        'totp_off',
        'recovery_code_used',
        'recovery_codes_renewed',
        'recovery_codes_renewed',
        'totp_on',
      ]);
    });

    it('passkey added, renamed, removed, each naming the passkey', async () => {
      const person = await loggedInUser(app);
      const authenticator = new SoftAuthenticator();
      const options = await json('/user/passkeys/options', person).send({});
      expect(options.status, options.text).to.equal(200);
      expect((await json('/user/passkeys', person).send({ name: 'Work laptop', response: authenticator.create(options.body, ORIGIN) })).status).to.equal(200);
      expect((await eventOf(person.id, 'passkey_added')).detail).to.equal('Work laptop');
      expect((await json('/user/passkeys/rename', person).send({ credentialId: authenticator.id, name: 'Old laptop' })).status).to.equal(200);
      expect((await eventOf(person.id, 'passkey_renamed')).detail).to.equal('Old laptop');
      expect((await json('/user/passkeys/remove', person).send({ credentialId: authenticator.id })).status).to.equal(200);
      expect((await eventOf(person.id, 'passkey_removed')).detail).to.equal('Old laptop');
      expect((await page('/user/activity', person)).text).to.include(`${ko('activity.kind.passkey_removed')}</strong> · <span class="event-detail">Old laptop`);
    });

    it('locked, unlocked, sessions ended by an administrator: the administrator on the person’s page and in /admin/audit', async () => {
      const [admin, person] = await Promise.all([administrator(), loggedInUser(app)]);
      const act = (action: string) => postTo(app, `/admin/users/${person.id}/${action}`, cookieHeader(admin)).set('X-Forwarded-For', '192.0.2.7');
      expect((await act('revoke-sessions')).status).to.equal(303);
      const ended = await eventOf(person.id, 'session_ended');
      expect([ended.actor, ended.detail]).to.deep.equal([{ kind: 'admin', id: admin.id }, '1']);
      expect((await act('lock')).status).to.equal(303);
      expect((await eventOf(person.id, 'locked')).actor).to.deep.equal({ kind: 'admin', id: admin.id });
      expect((await act('unlock')).status).to.equal(303);
      expect((await eventOf(person.id, 'unlocked')).actor).to.deep.equal({ kind: 'admin', id: admin.id });

      const again = await login(app, person.id);
      const rows = (await activity(again)).events.filter((event) => event.actor === 'admin');
      expect(rows.map(({ kind, admin: by }) => [kind, by])).to.deep.equal([
        ['unlocked', admin.id],
        ['locked', admin.id],
        ['session_ended', admin.id],
      ]);
      expect((await page('/user/activity?lang=en', again)).text).to.include(en('activity.by.admin', { id: admin.id }));

      const audit = await page('/admin/audit?lang=en', admin);
      expect(audit.status).to.equal(200);
      const entries = [...audit.text.matchAll(/<li class="event event-(\w+)">([\s\S]*?)<\/li>/g)].filter(([, , body]) => body.includes(`>${person.id}</a>`));
      expect(entries.map(([, kind]) => kind)).to.deep.equal(['unlocked', 'locked', 'session_ended']);
      for (const [, , body] of entries)
        expect(body)
          .to.include('192.0.2.7')
          .and.include(en('activity.by.admin', { id: admin.id }));
    });

    it('administrator granted and revoked by npm run admin: the operating-system user as actor, on the person’s page and in the audit', async () => {
      const [admin, person] = await Promise.all([administrator(), loggedInUser(app)]);
      const { redis: cli } = await testStores();
      const { log } = createEndedSessions({ redis: cli, keyPrefix: redisKeyPrefix, accessTtlMs: 600_000, logger: createLogger('silent') });
      const sessions = createRefreshSessions(cli, { ...SESSION_LIMITS, keyPrefix: redisKeyPrefix, endedLog: log, accountChannel: ACCOUNT_CHANNEL });
      const deps = { users, sessions, events: model() };
      expect((await adminCommand(deps, 'grant', person.id)).code).to.equal(0);
      expect((await adminCommand(deps, 'revoke', person.id)).code).to.equal(0);
      const operator = `${os.userInfo().username} (npm run admin)`;
      expect((await recorded(person.id)).slice(0, 2).map(({ kind, actor }) => [kind, actor])).to.deep.equal([
        ['admin_revoked', { kind: 'admin', id: operator }],
        ['admin_granted', { kind: 'admin', id: operator }],
      ]);
      const audit = (await page('/admin/audit', admin)).text;
      expect(audit)
        .to.include(ko('activity.by.admin', { id: operator }))
        .and.include(`>${person.id}</a>`);
    });
  });

  describe('the kinds of the email address, the reset and the administrators’ account page (a site that sends mail)', () => {
    let smtp: Smtp;
    let mailing: App;
    let stopSender: () => Promise<void>;
    before(async () => {
      smtp = await startSmtp();
      const site = await siteWithMail({ TRUST_PROXY: 'true' }, smtp);
      mailing = site.app;
      stopSender = () => site.sender.stop();
    });
    after(async () => {
      await stopSender();
      await smtp.stop();
    });
    const post = (path: string, tokens: Partial<Tokens> = {}) => postTo(mailing, path, cookieHeader(tokens)).set('X-Forwarded-For', '192.0.2.9');

    it('email added (naming it), verified, removed; reset requested (nobody proved who: no "by you"), password reset; none for an unknown id', async () => {
      const person = await loggedInUser(mailing);
      const address = `${person.id}@mail.example`;
      expect((await post('/user/email', person).send({ email: address })).status).to.equal(303);
      expect((await eventOf(person.id, 'email_added')).detail).to.equal(address);
      const verify = linkIn((await smtp.waitFor(address, 1))[0], '/user/email/verify');
      expect((await request(mailing).get(`${verify.pathname}${verify.search}`)).status).to.equal(303);
      expect((await eventOf(person.id, 'email_verified')).actor).to.deep.equal({ kind: 'self' });

      expect((await post('/user/forgot').send({ login: person.id })).status).to.equal(200);
      const requested = await eventOf(person.id, 'reset_requested');
      expect([requested.actor, requested.ip]).to.deep.equal([{ kind: 'self' }, '192.0.2.9']);
      const reset = linkIn((await smtp.waitFor(address, 2))[1], '/user/reset');
      const token = reset.searchParams.get('token')!;
      expect((await post('/user/reset').send({ token, password: 'a brand new passphrase', confirmPassword: 'a brand new passphrase' })).status).to.equal(303);
      await eventOf(person.id, 'password_reset');
      const again = await login(mailing, person.id, 'a brand new passphrase');
      const html = (await request(mailing).get('/user/activity?lang=en').set('Cookie', cookieHeader(again))).text;
      const requestedRow = /<li class="event event-reset_requested">([\s\S]*?)<\/li>/.exec(html)![1];
      expect(requestedRow).to.include('192.0.2.9').and.not.include(en('activity.by.self'));
      expect(html).to.include(`${en('activity.kind.email_added')}</strong> · <span class="event-detail">${address}`);

      expect((await post('/user/email/remove', again).send({})).status).to.equal(303);
      await eventOf(person.id, 'email_removed');

      const nobody = uniqueId();
      expect((await post('/user/forgot').send({ login: nobody })).status).to.equal(200);
      await sleep(300);
      const [[{ n }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM security_events WHERE account_id = ?', [nobody]);
      expect(n).to.equal(0);
    });

    it('a reset link made, the second factor reset, the account deleted by an administrator: on the account’s page and in the audit', async () => {
      const [admin, person] = [await administratorOf(mailing), await loggedInUser(mailing)];
      const act = (action: string) => post(`/admin/users/${person.id}/${action}`, admin).send({});
      expect((await act('reset-link')).status).to.equal(200);
      expect((await eventOf(person.id, 'reset_link_issued')).actor).to.deep.equal({ kind: 'admin', id: admin.id });
      expect((await act('reset-second-factor')).status).to.equal(303);
      expect((await eventOf(person.id, 'second_factor_reset')).actor).to.deep.equal({ kind: 'admin', id: admin.id });
      const accountPage = (await request(mailing).get(`/admin/users/${person.id}?lang=en`).set('Cookie', cookieHeader(admin))).text;
      expect(accountPage).to.include(en('activity.kind.second_factor_reset')).and.include(en('activity.kind.reset_link_issued'));
      expect(accountPage).to.include(en('activity.by.admin', { id: admin.id }));

      expect((await act('delete')).status).to.equal(303);
      await until(async () => {
        const audit = (await request(mailing).get('/admin/audit').set('Cookie', cookieHeader(admin))).text;
        return audit.includes('event-account_deleted') && audit.includes(`>${person.id}</a>`);
      }, 'the deletion in the audit');
      const [[{ n }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM security_events WHERE account_id = ? AND actor_kind = ?', [
        person.id,
        'admin',
      ]);
      expect(n, 'what the administrator did outlives the account').to.equal(3);
    });
  });

  it('30 parallel failed logins of one account record exactly the failures the site counted (401), none of the refused (429)', async () => {
    const person = await loggedInUser(app);
    const ip = someIp();
    const statuses = await Promise.all(
      Array.from({ length: 30 }, () =>
        postTo(app, '/user/login')
          .set('X-Forwarded-For', ip)
          .send({ id: person.id, password: 'wrong password' })
          .then((res) => res.status),
      ),
    );
    const counted = statuses.filter((status) => status === 401).length;
    expect(counted).to.equal(5);
    expect(statuses.filter((status) => status === 429)).to.have.length(25);
    await eventOf(person.id, 'login_failed', counted);
    await sleep(300);
    expect((await kindsOf(person.id)).filter((kind) => kind === 'login_failed')).to.have.length(counted);
  });

  it('50 a page, newest first, without overlap; `next` names the following page and the HTML page links to it', async () => {
    const person = await loggedInUser(app);
    await eventOf(person.id, 'login');
    for (let i = 0; i < 119; i++)
      await model().insert({ kind: 'passkey_renamed', userId: person.id, actor: { kind: 'self' }, ip: '', userAgent: '', deviceKey: '', detail: `n${i}` });
    const pages = [await activity(person), await activity(person, '?page=2'), await activity(person, '?page=3')];
    expect(pages.map((p) => [p.events.length, p.next])).to.deep.equal([
      [50, 2],
      [50, 3],
      [20, null],
    ]);
    const times = pages.flatMap((p) => p.events.map((event) => Date.parse(event.at)));
    expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    expect(pages[2].events.at(-1)!.kind).to.equal('login');
    const html = (await page('/user/activity?page=2', person)).text;
    expect(html).to.include('href="/user/activity?page=1"').and.include('href="/user/activity?page=3"');
    expect(html.match(/<li class="event /g)).to.have.length(50);
    for (const odd of ['?page=0', '?page=-1', '?page=abc', '?page=99999999', '?page[]=2']) expect((await activity(person, odd)).events, odd).to.have.length(50);
  });

  it('HTML in both languages: the kind in words, the time in the language’s zone, the IP, the device, who did it; the info page shows the login before this one', async () => {
    const id = uniqueId();
    await register(app, { id });
    await postTo(app, '/user/login').set('X-Forwarded-For', '198.51.100.4').set('User-Agent', CHROME_ON_WINDOWS).send({ id, password: PASSWORD });
    await eventOf(id, 'login');
    const now = await postTo(app, '/user/login').set('User-Agent', SAFARI_ON_IPHONE).send({ id, password: PASSWORD });
    const tokens = { accessToken: setCookies(now).accessToken.value, refreshToken: setCookies(now).refreshToken.value };
    await eventOf(id, 'login_new_device');
    for (const [lang, t] of [
      ['ko', ko],
      ['en', en],
    ] as const) {
      const html = (await page(`/user/activity?lang=${lang}`, tokens)).text;
      expect(html).to.include(`<h1>${t('activity.title')}</h1>`);
      expect(html).to.include(t('activity.kind.login_new_device')).and.include(t('activity.kind.login')).and.include(t('activity.by.self'));
      expect(html).to.match(/<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">/);
      expect(html).to.include('198.51.100.4');
      const info = (await page(`/user/info?lang=${lang}`, tokens)).text;
      expect(info).to.include(t('security.lastLogin')).and.include('href="/user/activity"');
      expect(/<p class="last-login">([\s\S]*?)<\/p>/.exec(info)![1])
        .to.include('198.51.100.4')
        .and.match(/Chrome/);
    }
    expect((await page('/user/activity', tokens)).text).to.match(/(오전|오후) \d/);
  });

  it('not logged in: sent to log in and come back (JSON 401); /admin/audit is for administrators only', async () => {
    const visitor = await request(app).get('/user/activity');
    expect([visitor.status, visitor.headers.location]).to.deep.equal([303, '/user/login?next=/user/activity']);
    expect((await request(app).get('/user/activity').set('Accept', 'application/json')).status).to.equal(401);
    const person = await loggedInUser(app);
    const refused = await page('/admin/audit', person);
    expect(refused.status).to.equal(403);
    expect(refused.text).to.include(ko('admin.forbidden'));
  });

  it('an account deleted takes its own activity with it', async () => {
    const person = await loggedInUser(app);
    await eventOf(person.id, 'login');
    const deleted = await form('/user/delete', person).send({ password: PASSWORD });
    expect(deleted.status, deleted.text).to.equal(303);
    const [[{ n }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM security_events WHERE account_id = ?', [person.id]);
    expect(n).to.equal(0);
  });

  describe('retention: ACTIVITY_RETENTION', () => {
    const RETENTION_MS = 1500;
    const events = (logger = createLogger('silent')) => createSecurityEvents({ model: model(), retentionMs: RETENTION_MS, logger });

    it('older events leave the page at once and the table at the clean-up; one instance at a time (a MySQL named lock)', async () => {
      const short = (await makeSite({ ACTIVITY_RETENTION: `${RETENTION_MS}ms` })).app;
      const person = await loggedInUser(short);
      await eventOf(person.id, 'login');
      const read = async () =>
        (await request(short).get('/user/activity').set('Cookie', cookieHeader(person)).set('Accept', 'application/json')).body.events as Row[];
      expect(await read()).to.have.length(1);
      await sleep(RETENTION_MS + 200);
      expect(await read(), 'past the retention: not shown').to.deep.equal([]);
      expect(await recorded(person.id), 'still in the table until the clean-up').to.have.length(1);

      const other = await connectAdmin('127.0.0.1', 3306);
      try {
        const [[held]] = await other.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', ['login_page_activity_retention']);
        expect(held.got).to.equal(1);
        expect(await events().prune(), 'another instance holds the lock: nothing done').to.equal(undefined);
        expect(await recorded(person.id)).to.have.length(1);
        await other.query('SELECT RELEASE_LOCK(?)', ['login_page_activity_retention']);
      } finally {
        await other.end();
      }
      const results = await Promise.all(Array.from({ length: 5 }, () => events().prune()));
      expect(results.filter((deleted) => deleted !== undefined).reduce((sum, deleted) => sum + deleted, 0)).to.be.at.least(1);
      expect(await recorded(person.id), 'deleted').to.deep.equal([]);
    });
  });

  describe('an event that cannot be written', () => {
    it('fails nothing: the login goes through; the loss is counted on /readyz and logged without SQL', async () => {
      const lines: string[] = [];
      const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).trim().split('\n')), done()) });
      const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
      const site = (await makeSite({}, {}, logger)).app;
      const id = uniqueId();
      await register(site, { id });
      const root = await connectAdmin('127.0.0.1', 3306);
      const { target } = await testStores();
      const trigger = `\`${target.database}\`.refuse_events_${randomInt(1e9)}`;
      // MySQL refuses this login's event (a real error from the server), and only this one.
      await root.query(
        `CREATE TRIGGER ${trigger} BEFORE INSERT ON \`${target.database}\`.security_events FOR EACH ROW
         IF NEW.account_id = ${root.escape(id)} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused for the test'; END IF`,
      );
      try {
        const before = (await request(site).get('/readyz')).body.eventsLost as number;
        const res = await postTo(site, '/user/login').send({ id, password: PASSWORD });
        expect(res.status).to.equal(303);
        expect(isLoggedIn(await getInfo(site, { accessToken: setCookies(res).accessToken.value }))).to.equal(true);
        await until(async () => (await request(site).get('/readyz')).body.eventsLost === before + 1, 'the lost event counted');
        const lost = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'a security event could not be recorded');
        expect(lost).to.have.length(1);
        expect(lost[0]).to.deep.include({ kind: 'login', lost: before + 1 });
        expect(JSON.stringify(lost[0])).to.not.match(/INSERT|SELECT|security_events/);
      } finally {
        await root.query(`DROP TRIGGER IF EXISTS ${trigger}`);
        await root.end();
      }
    });
  });
});
