import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import request from 'supertest';
import { createRedis } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { createUserModel } from '../src/models/user.js';
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
import { REDIS_URL, testStores } from './helpers/stores.js';
import { hookedPool } from './helpers/hookedPool.js';
import { mysqlThroughProxy, startTcpProxy } from './helpers/tcpProxy.js';
import { expectUnavailable } from './helpers/outage.js';
import { ko } from './helpers/i18n.js';

/** Polls /readyz until it answers 200; the store clients reconnect on their own. */
async function untilReady(app: App): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if ((await request(app).get('/readyz')).status === 200) return;
    await sleep(100);
  }
  throw new Error('the site did not become ready again');
}

describe('Redis outage (through a proxy the test cuts)', function () {
  this.timeout(30_000);
  let app: App;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let redis: ReturnType<typeof createRedis>;

  before(async () => {
    proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    redis = createRedis(`redis://127.0.0.1:${proxy.port}`, createLogger('silent'));
    await redis.connect();
    const { db } = await testStores();
    ({ app } = await makeSite({}, { db, redis }));
  });
  after(async () => {
    await redis.close();
    await proxy.close();
  });

  /** A logged-in user whose access token has expired; `during` runs while Redis is cut or frozen. */
  async function throughOutage(mode: 'cut' | 'freeze', during: (user: Awaited<ReturnType<typeof loggedInUser>>, stale: Tokens) => Promise<void>) {
    const user = await loggedInUser(app);
    const stale = { accessToken: expire(user.accessToken), refreshToken: user.refreshToken };
    proxy[mode]();
    try {
      expect(isLoggedIn(await getInfo(app, user))).to.equal(true);
      await expectUnavailable(getInfo(app, stale));
      await expectUnavailable(postTo(app, '/user/login').send({ id: user.id, password: PASSWORD }));
      await during(user, stale);
    } finally {
      proxy.restore();
    }
    await untilReady(app);
    return { user, stale };
  }

  it('keeps pages with a valid access token working, answers 503 for refresh, login and logout, and recovers', async () => {
    const { user, stale } = await throughOutage('cut', async (user) => {
      await expectUnavailable(request(app).get('/user/logout').set('Cookie', cookieHeader(user)));
      const json = await expectUnavailable(postTo(app, '/user/login').set('Accept', 'application/json').send({ id: user.id, password: PASSWORD }));
      expect(json.body.success).to.equal(false);
      const ready = await request(app).get('/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body.missing).to.deep.equal(['redis']);
    });
    // The refresh that failed during the outage was neither a logout nor a reuse: the same tokens still work.
    const res = await getInfo(app, stale);
    expect(isLoggedIn(res)).to.equal(true);
    expect(setCookies(res).refreshToken.value).to.not.equal('');
    expect((await postTo(app, '/user/login').send({ id: user.id, password: PASSWORD })).status).to.equal(303);
  });

  it('a Redis that hangs (accepts, never answers) gives 503 within a few seconds, and the person stays logged in', async () => {
    const { stale } = await throughOutage('freeze', () => Promise.resolve());
    // The rotation sent during the hang ran once Redis answered, so within the grace window the same tokens
    // get a new access cookie (and later replies still match their commands).
    const res = await getInfo(app, stale);
    expect(isLoggedIn(res)).to.equal(true);
    expect(setCookies(res).accessToken.value).to.not.equal('');
  });

  it('a site started while Redis is down serves, says so on /readyz, and becomes ready when Redis appears', async () => {
    const late = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    late.cut();
    const client = createRedis(`redis://127.0.0.1:${late.port}`, createLogger('silent'));
    const connecting = client.connect().catch(() => undefined);
    try {
      const { db } = await testStores();
      const { app: site } = await makeSite({}, { db, redis: client });
      expect((await request(site).get('/user/login')).status).to.equal(200);
      expect((await request(site).get('/readyz')).body.missing).to.deep.equal(['redis']);
      late.restore();
      await connecting;
      await untilReady(site);
    } finally {
      await client.close().catch(() => undefined);
      await late.close();
    }
  });
});

describe('MySQL outage (through a proxy the test cuts)', function () {
  this.timeout(30_000);

  it('login and register answer 503 within a few seconds, cut or hanging, and work again when MySQL returns (no lock for it)', async () => {
    const { redis } = await testStores();
    const { proxy, db, close } = await mysqlThroughProxy();
    try {
      // Logins that were never checked are no failures: three of them do not spend a limit of two.
      const { app } = await makeSite({ LOGIN_MAX_FAILURES: '2' }, { db, redis });
      const id = uniqueId();
      await register(app, { id });
      proxy.cut();
      for (let i = 0; i < 3; i++) await expectUnavailable(postTo(app, '/user/login').send({ id, password: PASSWORD }));
      await expectUnavailable(postTo(app, '/user/register').send({ id: uniqueId(), name: 'N', password: PASSWORD, confirmPassword: PASSWORD }));
      expect((await request(app).get('/readyz')).body.missing).to.deep.equal(['mysql']);
      proxy.restore();
      await untilReady(app);
      expect((await postTo(app, '/user/login').send({ id, password: PASSWORD })).status).to.equal(303);
      // A MySQL that hangs: the pool's connection is held but answers nothing.
      proxy.freeze();
      await expectUnavailable(postTo(app, '/user/login').send({ id, password: PASSWORD }));
      proxy.restore();
      await untilReady(app);
      expect((await postTo(app, '/user/login').send({ id, password: PASSWORD })).status).to.equal(303);
    } finally {
      await close();
    }
  });

  it('a MySQL that hangs while a statement is prepared (the first of its kind on a connection), or inside a transaction: 503 within a few seconds', async () => {
    const { redis } = await testStores();
    const { proxy, db, close } = await mysqlThroughProxy();
    try {
      const { app } = await makeSite({}, { db, redis });
      // A connection made with a plain query, so nothing is prepared on it yet: the login's account read is.
      await db.query('SELECT 1');
      proxy.freeze();
      await expectUnavailable(postTo(app, '/user/login').send({ id: uniqueId(), password: PASSWORD }));
      proxy.restore();
      await untilReady(app);
      expect((await postTo(app, '/user/login').send({ id: uniqueId(), password: PASSWORD })).status).to.equal(401);
      // And inside a transaction (a registration's): its first statement hangs, then its own.
      await db.query('SELECT 1');
      proxy.freeze();
      await expectUnavailable(postTo(app, '/user/register').send({ id: uniqueId(), name: 'N', password: PASSWORD, confirmPassword: PASSWORD }));
      proxy.restore();
    } finally {
      await close();
    }
  });

  it("an administrator's lock cut off by a MySQL that hangs: 503, and the account's sessions have ended anyway (a lock cut off may still land)", async () => {
    const { redis } = await testStores();
    const { proxy, db: real, close } = await mysqlThroughProxy();
    let freezeAfterReading = '';
    const db = hookedPool(real, async (sql, values, run) => {
      const result = await run();
      if (freezeAfterReading && values.includes(freezeAfterReading) && sql.startsWith('SELECT id, name, password_hash')) proxy.freeze();
      return result;
    });
    try {
      const { app } = await makeSite({}, { db, redis });
      const user = await loggedInUser(app);
      const adminId = uniqueId();
      await register(app, { id: adminId });
      expect(await createUserModel(real).setAdmin(adminId, true)).to.equal(true);
      const adminCookies = setCookies(await postTo(app, '/user/login').send({ id: adminId, password: PASSWORD }));
      const admin = { accessToken: adminCookies.accessToken.value, refreshToken: adminCookies.refreshToken.value };
      freezeAfterReading = user.id;
      await expectUnavailable(postTo(app, `/admin/users/${user.id}/lock`, cookieHeader(admin)).send({}));
      freezeAfterReading = '';
      proxy.restore();
      await untilReady(app);
      expect(isLoggedIn(await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken })), 'its refresh').to.equal(false);
    } finally {
      await close();
    }
  });

  it('a MySQL that hangs after the account was read: the login answers 503 within a few seconds, counts no event lost and leaves no session', async () => {
    const { redis } = await testStores();
    const { proxy, db: real, close } = await mysqlThroughProxy();
    let freezeAfterAccountRead = false;
    // The real pool, except that MySQL starts hanging right after a login read its account (the checked write is next).
    const db = hookedPool(real, async (sql, _values, run) => {
      const result = await run();
      if (freezeAfterAccountRead && sql.startsWith('SELECT id, name, password_hash')) proxy.freeze();
      return result;
    });
    try {
      const { app } = await makeSite({}, { db, redis });
      const id = uniqueId();
      await register(app, { id });
      // One login first: its statements are prepared on the pool's connection, as on a site that has been running.
      expect((await postTo(app, '/user/login').send({ id, password: PASSWORD })).status).to.equal(303);
      const lostBefore = (await request(app).get('/readyz')).body.eventsLost as number;
      freezeAfterAccountRead = true;
      await expectUnavailable(postTo(app, '/user/login').send({ id, password: PASSWORD }));
      freezeAfterAccountRead = false;
      proxy.restore();
      await untilReady(app);
      expect((await request(app).get('/readyz')).body.eventsLost, 'the login did not happen: no event of it was lost').to.equal(lostBefore);
      const again = await postTo(app, '/user/login').send({ id, password: PASSWORD });
      const info = await getInfo(app, { accessToken: setCookies(again).accessToken.value });
      expect(info.text, 'the first login and this one: the one that failed left no session').to.include(ko('security.sessions', { count: 2 }));
    } finally {
      await close();
    }
  });
});
