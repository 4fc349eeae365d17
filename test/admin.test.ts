import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { adminCommand } from '../scripts/lib/admin.js';
import { createRefreshSessions } from '../src/models/refreshSessions.js';
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
  setCookies,
  uniqueId,
  type App,
  type Tokens,
} from './helpers/site.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';

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
    const { redis } = await testStores();
    const { log } = createEndedSessions({ redis, keyPrefix: redisKeyPrefix, accessTtlMs: 600_000, logger: createLogger('silent') });
    const sessions = createRefreshSessions(redis, { keyPrefix: redisKeyPrefix, idleMs: 60_000, reuseGraceMs: 10_000, maxPerUser: 10, endedLog: log });
    const done = await adminCommand({ users, sessions }, 'revoke', other.id.toUpperCase());
    expect(done).to.deep.equal({ code: 0, message: `${other.id} is no longer an administrator; 1 session(s) ended` });
    await refusedWithin(app, other, 1000);
    expect(await adminCommand({ users, sessions }, 'grant', 'nobody_here')).to.deep.equal({ code: 1, message: 'no account has the id nobody_here' });
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
