import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import type { RowDataPacket } from 'mysql2/promise';
import { Secret, TOTP } from 'otpauth';
import { pino } from 'pino';
import request from 'supertest';
import type { Db } from '../src/config/clients.js';
import { createPasskeyModel } from '../src/models/passkeys.js';
import { createUserModel } from '../src/models/user.js';
import { en, ko } from './helpers/i18n.js';
import { cookieHeader, login, makeSite, postTo, refusedWithin, register, setCookies, uniqueId, type App, type Tokens } from './helpers/site.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';

const NEW_PASSWORD = 'a brand new passphrase';

describe("an account's page for administrators: details, a reset link shown once, a second-factor reset, deletion", function () {
  this.timeout(60_000);
  let app: App;
  let db: Db;
  let users: ReturnType<typeof createUserModel>;
  let admin: Tokens & { id: string };
  const log: string[] = [];

  before(async () => {
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (log.push(String(chunk)), done()) }));
    ({ app, db } = await makeSite({ HASH_CONCURRENCY: '4' }, {}, logger));
    users = createUserModel(db);
    const id = uniqueId();
    await register(app, { id, name: 'Admin' });
    await users.setAdmin(id, true);
    admin = { id, ...(await login(app, id)) };
  });

  const page = (path: string, tokens: Partial<Tokens> = admin, lang = 'ko') =>
    request(app)
      .get(path)
      .set('Cookie', `${cookieHeader(tokens)}; lang=${lang}`);
  const act = (id: string, action: string, { json = false, lang = 'ko' } = {}) => {
    const post = postTo(app, `/admin/users/${id}/${action}`, `${cookieHeader(admin)}; lang=${lang}`);
    return (json ? post.set('Accept', 'application/json') : post).send({});
  };
  const eventsOf = (event: string) => log.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === event);

  /** An account with two live sessions, a verified address, TOTP and a passkey. */
  async function fullAccount() {
    const id = uniqueId();
    await register(app, { id });
    await db.query('UPDATE users SET email = ? WHERE id = ?', [`${id}@mail.example`, id]);
    const first = await login(app, id);
    const secret = /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec((await page('/user/2fa', first)).text)![1];
    const enabled = await postTo(app, '/user/2fa/enable', cookieHeader(first)).send({ code: TOTP.generate({ secret: Secret.fromBase32(secret) }) });
    expect(enabled.status).to.equal(200);
    const passkey = { credentialId: randomBytes(16).toString('base64url'), userHandle: randomBytes(32).toString('base64url'), publicKey: randomBytes(77) };
    const { redis } = await testStores();
    expect(await createPasskeyModel(db, redis, redisKeyPrefix).add(id, { ...passkey, counter: 0, transports: [], name: 'Phone' })).to.equal(true);
    return { id, session: first };
  }

  it('shows the account (email and whether verified, TOTP, passkeys, live sessions, last login) in both languages; the list links to it', async () => {
    const { id } = await fullAccount();
    for (const [lang, t] of [
      ['ko', ko],
      ['en', en],
    ] as const) {
      const res = await page(`/admin/users/${id}`, admin, lang);
      expect(res.status).to.equal(200);
      expect(res.text)
        .to.include(`<title>${t('adminAccount.title', { id })} · login-page</title>`)
        .and.include(`<dd id="account-email">${id}@mail.example (${t('adminAccount.emailVerified')})</dd>`)
        .and.include(`<dd id="account-totp">${t('admin.yes')}</dd>`)
        .and.include('<dd id="account-passkeys">1</dd>')
        .and.include('<dd id="account-sessions">1</dd>')
        .and.include(`action="/admin/users/${id}/reset-link"`)
        .and.include(`action="/admin/users/${id}/reset-second-factor"`)
        .and.include(`action="/admin/users/${id}/delete"`);
      expect(res.text).to.match(/<dt>[^<]+<\/dt>\s*<dd><time datetime="[^"]+">/);
    }
    expect((await page(`/admin/users?q=${id}`)).text).to.include(`href="/admin/users/${id}"`);
    const own = await page(`/admin/users/${admin.id}`);
    expect(own.text).to.include(ko('adminAccount.own')).and.not.include('/reset-link"');
    const unknown = await page('/admin/users/nobody_here');
    expect(unknown.status).to.equal(404);
    expect(unknown.text)
      .to.include(`role="alert">${ko('admin.unknownAccount')}</p>`)
      .and.include('<form class="search"');
  });

  it('a reset link shown once (its page links to the account’s page in the other language, which offers a new one): it works once, for 24 hours, and ends every session', async () => {
    const id = uniqueId();
    await register(app, { id });
    const session = await login(app, id);
    const res = await act(id, 'reset-link', { lang: 'en' });
    expect(res.status).to.equal(200);
    const link = new URL(/<code id="reset-link" class="secret">([^<]+)<\/code>/.exec(res.text)![1]);
    expect(link.pathname).to.equal('/user/reset');
    expect(res.text).to.include(en('adminResetLink.once').replace("'", '&#39;')).and.include(`class="lang-switch" href="/admin/users/${id}?lang=ko"`);
    expect((await page(`/admin/users/${id}`, admin, 'ko')).text).to.include(ko('adminAccount.resetLink', { id }));
    const [[{ hours }]] = await db.query<RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MINUTE, NOW(3), t.expires_at) / 60 AS hours FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ?',
      [id],
    );
    expect(Number(hours)).to.be.within(23.9, 24);
    const events = eventsOf('admin.reset_link');
    expect(events.at(-1)).to.deep.include({ admin: admin.id, user: id });
    expect(JSON.stringify(events)).not.to.include(link.searchParams.get('token')!);

    const token = link.searchParams.get('token')!;
    expect((await request(app).get(`${link.pathname}${link.search}`)).text).to.include(ko('reset.intro', { id }));
    const done = await postTo(app, '/user/reset').send({ token, password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect([done.status, done.headers.location]).to.deep.equal([303, '/user/login']);
    await refusedWithin(app, session, 1000);
    await login(app, id, NEW_PASSWORD);
    expect((await postTo(app, '/user/reset').send({ token, password: 'yet another passphrase', confirmPassword: 'yet another passphrase' })).status).to.equal(
      400,
    );

    const asJson = await act(id, 'reset-link', { json: true });
    expect(asJson.status).to.equal(200);
    expect(asJson.body).to.have.property('success', true);
    expect(new URL(asJson.body.link as string).pathname).to.equal('/user/reset');
  });

  it('resetting the second factor: TOTP off, recovery codes and passkeys gone, every session ended; 303 to the account’s page with a notice', async () => {
    const { id, session } = await fullAccount();
    const res = await act(id, 'reset-second-factor');
    expect([res.status, res.headers.location]).to.deep.equal([303, `/admin/users/${id}`]);
    expect(eventsOf('admin.second_factor_reset').at(-1)).to.deep.include({ admin: admin.id, user: id });
    const shown = await request(app)
      .get(`/admin/users/${id}`)
      .set('Cookie', `${cookieHeader(admin)}; notice=${encodeURIComponent(setCookies(res).notice.value)}`);
    expect(shown.text)
      .to.include(ko('notice.secondFactorReset'))
      .and.include(`<dd id="account-totp">${ko('admin.no')}</dd>`)
      .and.include('<dd id="account-passkeys">0</dd>');
    expect((await users.findById(id))!.hasTotp).to.equal(false);
    const [[{ codes }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS codes FROM recovery_codes rc JOIN users u ON u.pk = rc.user_pk WHERE u.id = ?', [
      id,
    ]);
    expect(Number(codes)).to.equal(0);
    await refusedWithin(app, session, 1000);
    // The password alone logs in now.
    await login(app, id);
    expect((await act(id, 'reset-second-factor', { json: true })).body).to.deep.equal({ success: true });
  });

  it('deleting: the account goes and every session with it; 303 to its page, which then shows the list, the notice and 404; the id is free', async () => {
    const id = uniqueId();
    await register(app, { id });
    const session = await login(app, id);
    const res = await act(id, 'delete');
    expect([res.status, res.headers.location]).to.deep.equal([303, `/admin/users/${id}`]);
    expect(eventsOf('admin.account_deleted').at(-1)).to.deep.include({ admin: admin.id, user: id });
    expect(await users.findById(id)).to.equal(undefined);
    await refusedWithin(app, session, 1000);
    const after = await request(app)
      .get(`/admin/users/${id}`)
      .set('Cookie', `${cookieHeader(admin)}; notice=${encodeURIComponent(setCookies(res).notice.value)}`);
    expect(after.status).to.equal(404);
    expect(after.text).to.include(ko('notice.accountDeletedByAdmin')).and.include(ko('admin.unknownAccount'));
    await register(app, { id });
  });

  it("refused: one's own account (400, the page again with the message), an unknown id (404, the list, its language link to /admin/users); JSON keeps { success: false, msg }", async () => {
    for (const action of ['reset-link', 'reset-second-factor', 'delete']) {
      const own = await act(admin.id, action, { lang: 'en' });
      expect(own.status, action).to.equal(400);
      expect(own.text, action)
        .to.include(`role="alert">${en('admin.notOnOwnAccount')}</p>`)
        .and.include(`<dd id="account-sessions">`)
        .and.include(`class="lang-switch" href="/admin/users/${admin.id}?lang=ko"`);
      const unknown = await act('nobody_here', action, { lang: 'en' });
      expect(unknown.status, action).to.equal(404);
      expect(unknown.text, action).to.include(en('admin.unknownAccount')).and.include('class="lang-switch" href="/admin/users?lang=ko"');
      const json = await act('nobody_here', action, { json: true, lang: 'en' });
      expect([json.status, json.body], action).to.deep.equal([404, { success: false, msg: en('admin.unknownAccount'), errors: {} }]);
    }
    expect(await users.findById(admin.id)).to.deep.include({ isAdmin: true });
  });
});
