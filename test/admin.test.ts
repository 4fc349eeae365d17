import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { adminCommand } from '../scripts/lib/admin.js';
import { createRefreshSessions } from '../src/models/refreshSessions.js';
import { createSecurityEventModel } from '../src/models/securityEvents.js';
import { createUserModel } from '../src/models/user.js';
import { createEndedSessions } from '../src/services/endedSessions.js';
import { createLogger } from '../src/config/logger.js';
import { en, ko } from './helpers/i18n.js';
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
  SECRETS,
  setCookies,
  uniqueId,
  type App,
  type Tokens,
} from './helpers/site.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';
import { until } from './helpers/until.js';

describe('administrators', function () {
  this.timeout(30_000);
  let app: App;
  let users: ReturnType<typeof createUserModel>;
  let admin: Tokens & { id: string };

  /** A registered account, logged in; an administrator when `isAdmin`. */
  async function account(isAdmin = false, name = 'Tester') {
    const id = uniqueId();
    await register(app, { id, name });
    if (isAdmin) await users.setAdmin(id, true);
    return { id, ...(await login(app, id)) };
  }
  const usersPage = (tokens: Partial<Tokens>, query = '') => request(app).get(`/admin/users${query}`).set('Cookie', cookieHeader(tokens));
  const act = (tokens: Tokens, id: string, action: string) => postTo(app, `/admin/users/${id}/${action}`, cookieHeader(tokens));
  const refreshWorks = async (tokens: Tokens) => isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }));
  /** The list's rows by id: what each row shows, its forms included. */
  const rowsOf = (text: string) => Object.fromEntries([...text.matchAll(/<th scope="row">([^<]+)<\/th>([\s\S]*?)<\/tr>/g)].map((m) => [m[1], m[2]]));

  before(async () => {
    const site = await makeSite();
    app = site.app;
    users = createUserModel(site.db);
    admin = await account(true, 'Admin');
  });

  it('the access token of an administrator carries isAdmin: true, and the info page links to /admin/users; others have neither', async () => {
    expect(jwt.decode(admin.accessToken)).to.include({ isAdmin: true });
    expect((await getInfo(app, admin)).text).to.include('href="/admin/users"');
    const user = await account();
    expect(jwt.decode(user.accessToken)).to.not.have.property('isAdmin');
    expect((await getInfo(app, user)).text).to.not.include('href="/admin/users"');
  });

  it('a visitor is sent to log in and come back; a user who is not an administrator gets 403 in their language', async () => {
    const visitor = await usersPage({});
    expect(visitor.status).to.equal(303);
    expect(visitor.headers.location).to.equal('/user/login?next=/admin/users');
    const user = await account();
    const refused = await usersPage(user);
    expect(refused.status).to.equal(403);
    expect(refused.text).to.include(ko('admin.forbidden'));
    expect((await usersPage(user, '?lang=en')).text).to.include(en('admin.forbidden'));
    expect((await act(user, admin.id, 'lock')).status).to.equal(403);
  });

  it('lists accounts 50 a page, filtered by an id prefix, with name, created, administrator, locked and live sessions', async () => {
    const prefix = `p${uniqueId().slice(2, 10)}`;
    // One registration through the site; the others share its hash (53 at once would queue past HASH_CONCURRENCY's wait).
    await register(app, { id: `${prefix}_00`, name: 'Name 0' });
    const { passwordHash } = (await users.findById(`${prefix}_00`))!;
    await Promise.all(
      Array.from({ length: 52 }, (_, i) => users.create({ id: `${prefix}_${String(i + 1).padStart(2, '0')}`, name: `Name ${i + 1}`, passwordHash })),
    );
    await login(app, `${prefix}_00`);
    // Its login is recorded after the answer; the list reads the record.
    await until(async () => (await usersPage(admin, `?q=${prefix}_00`)).text.match(/<time datetime=/g)?.length === 2, 'the last login in the list');
    const first = await usersPage(admin, `?q=${prefix}`);
    expect(first.status).to.equal(200);
    expect(first.headers['cache-control']).to.equal('no-store');
    expect(first.text.match(/<th scope="row">/g)).to.have.length(50);
    expect(first.text).to.include(`${prefix}_00`).and.to.include(`${prefix}_49`).and.not.include(`${prefix}_50`);
    expect(first.text).to.include(`?q=${prefix}&amp;page=2`);
    const row = /<th scope="row">p\w+_00<\/th>([\s\S]*?)<\/tr>/.exec(first.text)![1];
    expect(row)
      .to.include('Name 0')
      .and.to.match(/<td>1<\/td>/)
      .and.to.match(/\d{4}-\d\d-\d\d/);
    expect(row.match(/<time datetime=/g), 'registered, and the last login').to.have.length(2);
    const never = /<th scope="row">p\w+_01<\/th>([\s\S]*?)<\/tr>/.exec(first.text)![1];
    expect(never, 'never logged in: a dash').to.include('<td>—</td>');
    const second = await usersPage(admin, `?q=${prefix}&page=2`);
    expect(second.text.match(/<th scope="row">/g)).to.have.length(3);
    expect(second.text).to.not.include('page=3');
    // Odd query values are ignored, not errors.
    expect((await usersPage(admin, '?q=%25&page=-4')).status).to.equal(200);
  });

  it('lock: the account cannot log in (403 after the right password) and its live session is refused within 1 s; unlock lets it in', async () => {
    const user = await account(false, 'Locked');
    const locked = await act(admin, user.id, 'lock');
    expect(locked.headers.location).to.equal('/admin/users');
    await refusedWithin(app, user, 1000);
    expect(await refreshWorks(user)).to.equal(false);
    const refused = await postTo(app, '/user/login').send({ id: user.id, password: PASSWORD });
    expect(refused.status).to.equal(403);
    expect(refused.text).to.include(ko('login.locked'));
    expect(refused.headers['set-cookie'] ?? []).to.satisfy((cookies: string[]) => !cookies.some((c) => c.startsWith('accessToken=')));
    const notice = `notice=${encodeURIComponent(setCookies(locked).notice.value)}`;
    const page = await request(app)
      .get(`/admin/users?q=${user.id}`)
      .set('Cookie', `${cookieHeader(admin)}; ${notice}`);
    expect(page.text).to.include(ko('notice.accountLocked'));
    expect(/<th scope="row">\w+<\/th>[\s\S]*?<\/tr>/.exec(page.text)![0]).to.match(new RegExp(`${ko('admin.yes')}</td>\\s*<td>0</td>`));
    expect((await act(admin, user.id, 'unlock')).status).to.equal(303);
    expect((await postTo(app, '/user/login').send({ id: user.id, password: PASSWORD })).status).to.equal(303);
  });

  it('an administrator cannot lock themself (400); an unknown id is 404; JSON clients get JSON', async () => {
    expect((await act(admin, admin.id, 'lock')).status).to.equal(400);
    expect((await act(admin, 'nobody_here', 'lock')).status).to.equal(404);
    expect((await act(admin, 'nobody_here', 'revoke-sessions')).status).to.equal(404);
    const json = await act(admin, uniqueId(), 'unlock').set('Accept', 'application/json');
    expect(json.status).to.equal(404);
    expect(json.body).to.include({ success: false, msg: ko('admin.unknownAccount') });
  });

  it("no lock is offered on one's own row (ids compared without regard to case), every other row has one", async () => {
    const other = await account();
    expect(rowsOf((await usersPage(admin, `?q=${admin.id}`)).text)[admin.id])
      .to.include('/revoke-sessions"')
      .and.not.match(/\/(un)?lock"/);
    // The token names the id as registered; one that named it in capitals would still be the same account.
    const claims = jwt.decode(admin.accessToken) as jwt.JwtPayload;
    const capitals = jwt.sign({ ...claims, sub: admin.id.toUpperCase() }, SECRETS.ACCESS_TOKEN_SECRET, { algorithm: 'HS256' });
    const page = await usersPage({ accessToken: capitals }, `?q=${admin.id}`);
    expect(page.status).to.equal(200);
    expect(rowsOf(page.text)[admin.id]).to.not.match(/\/(un)?lock"/);
    expect(rowsOf((await usersPage(admin, `?q=${other.id}`)).text)[other.id]).to.include(`action="/admin/users/${other.id}/lock"`);
  });

  it('a refused action shows the list again: its status, the message in an alert, forms that can be sent, the language link to /admin/users; JSON keeps { success: false, msg }', async () => {
    const other = await account();
    const self = await act(admin, admin.id.toUpperCase(), 'lock');
    expect(self.status).to.equal(400);
    expect(self.text).to.include(`<p class="alert" role="alert">${ko('admin.cannotLockSelf')}</p>`);
    expect(self.text)
      .to.include('<table class="accounts">')
      .and.match(/<th scope="row">\w+<\/th>/);
    expect(self.text).to.include('<a class="lang-switch" href="/admin/users?lang=en"');
    // The page's forms carry a token that goes with the CSRF cookie the answer set.
    const token = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(self.text)![1];
    const csrf = `csrf=${encodeURIComponent(setCookies(self).csrf.value)}`;
    const sent = await request(app)
      .post(`/admin/users/${other.id}/revoke-sessions`)
      .set('Cookie', `${csrf}; ${cookieHeader(admin)}`)
      .type('form')
      .send({ _csrf: token });
    expect(sent.status).to.equal(303);
    const unknown = await postTo(app, '/admin/users/nobody_here/unlock', `${cookieHeader(admin)}; lang=en`);
    expect(unknown.status).to.equal(404);
    expect(unknown.text)
      .to.include('<html lang="en">')
      .and.include(`<p class="alert" role="alert">${en('admin.unknownAccount')}</p>`)
      .and.include('<table class="accounts">')
      .and.include('href="/admin/users?lang=ko"');
    const json = await act(admin, admin.id, 'lock').set('Accept', 'application/json');
    expect([json.status, json.body]).to.deep.equal([400, { success: false, msg: ko('admin.cannotLockSelf'), errors: {} }]);
  });

  it('the id filter takes `_` as itself, not as any one character', async () => {
    const stem = `f${uniqueId().slice(2, 10)}`;
    const { passwordHash } = (await users.findById(admin.id))!;
    for (const id of [`${stem}_1`, `${stem}b1`, `${stem}_2`]) expect(await users.create({ id, name: 'Filtered', passwordHash })).to.equal(true);
    expect(Object.keys(rowsOf((await usersPage(admin, `?q=${stem}_`)).text))).to.deep.equal([`${stem}_1`, `${stem}_2`]);
    expect(Object.keys(rowsOf((await usersPage(admin, `?q=${stem}`)).text))).to.have.length(3);
  });

  it('a locked administrator is refused at /admin (403) although the session and its token are still good', async () => {
    const other = await account(true);
    expect((await usersPage(other)).status).to.equal(200);
    await users.setLocked(other.id, true); // in MySQL only: the session lives on
    expect(isLoggedIn(await getInfo(app, other))).to.equal(true);
    const refused = await usersPage(other);
    expect(refused.status).to.equal(403);
    expect(refused.text).to.include(ko('admin.forbidden'));
    expect((await act(other, admin.id, 'revoke-sessions')).status).to.equal(403);
    expect(isLoggedIn(await getInfo(app, admin), 'Admin')).to.equal(true);
  });

  it('20 parallel "end all sessions" requests end each of the account\'s 5 sessions once, and nothing fails', async () => {
    const user = await account();
    const sessions = [user, ...(await Promise.all(Array.from({ length: 4 }, () => login(app, user.id))))];
    const results = await Promise.all(Array.from({ length: 20 }, () => act(admin, user.id, 'revoke-sessions')));
    expect(results.map((res) => res.status)).to.deep.equal(Array(20).fill(303));
    for (const session of sessions) await refusedWithin(app, session, 1000);
    expect((await Promise.all(sessions.map(refreshWorks))).filter(Boolean)).to.have.length(0);
    expect((await usersPage(admin, `?q=${user.id}`)).text).to.match(/<td>0<\/td>/);
  });

  it('a demoted administrator is refused at /admin/users although the token still says isAdmin; npm run admin revoke also ends the sessions', async () => {
    const other = await account(true);
    expect((await usersPage(other)).status).to.equal(200);
    await users.setAdmin(other.id, false);
    expect((await usersPage(other)).status).to.equal(403);
    await users.setAdmin(other.id, true);
    const { redis, db } = await testStores();
    const { log } = createEndedSessions({ redis, keyPrefix: redisKeyPrefix, accessTtlMs: 600_000, logger: createLogger('silent') });
    const sessions = createRefreshSessions(redis, {
      keyPrefix: redisKeyPrefix,
      idleMs: 60_000,
      sharedIdleMs: 60_000,
      reuseGraceMs: 10_000,
      maxPerUser: 10,
      endedLog: log,
      accountChannel: 'unheard',
    });
    const done = await adminCommand({ users, sessions, events: createSecurityEventModel(db) }, 'revoke', other.id.toUpperCase());
    expect(done).to.deep.equal({ code: 0, message: `${other.id} is no longer an administrator; 1 session(s) ended` });
    await refusedWithin(app, other, 1000);
    expect(await adminCommand({ users, sessions, events: createSecurityEventModel(db) }, 'grant', 'nobody_here')).to.deep.equal({
      code: 1,
      message: 'no account has the id nobody_here',
    });
  });

  it('npm run admin: exit 1 with a message for an unknown id, 2 with the usage for anything else', async () => {
    const { databaseUrl } = await testStores();
    const run = (...args: string[]) =>
      promisify(execFile)(path.resolve('node_modules/.bin/tsx'), ['scripts/admin.ts', ...args], { env: { ...process.env, DATABASE_URL: databaseUrl } }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
    const unknown = await run('grant', 'nobody_here');
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('no account has the id nobody_here');
    expect((await run('promote', 'x')).code).to.equal(2);
  });
});
