import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { Logger } from 'pino';
import request from 'supertest';
import { createRedis } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { createEndedSessions } from '../src/services/endedSessions.js';
import jwt from 'jsonwebtoken';
import { cookieHeader, expire, getInfo, isLoggedIn, loggedInUser, login, makeSite, refusedWithin, setCookies, type App, type Tokens } from './helpers/site.js';
import { REDIS_URL, redisKeyPrefix, testStores, testSubscriber } from './helpers/stores.js';
import { startTcpProxy } from './helpers/tcpProxy.js';

const sidOf = (accessToken: string) => (jwt.decode(accessToken) as { sid: string }).sid;
const logout = (app: App, tokens: Tokens) => request(app).get('/user/logout').set('Cookie', cookieHeader(tokens));

/** Site B, reaching Redis only through a proxy the test controls: its command connection and its listening one. */
async function siteBehindProxy(logger?: Logger) {
  const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
  const url = `redis://127.0.0.1:${proxy.port}`;
  const redis = createRedis(url, createLogger('silent'));
  await redis.connect();
  const subscriber = testSubscriber(url);
  const { db } = await testStores();
  const { app: b } = await makeSite({}, { db, redis, subscriber }, logger);
  const close = async () => {
    redis.destroy(); // close() would wait for replies a frozen proxy holds
    await subscriber.close();
    await proxy.close();
  };
  return { b, proxy, redis, subscriber, close };
}

/** Polls `check` every few ms until it holds; resolves with how long that took. */
async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 5000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms: ${what}`);
    await sleep(5);
  }
  return Date.now() - started;
}

// Many sessions are set up at once here: their hashes must not wait in HASH_CONCURRENCY's queue (tested elsewhere).
const PARALLEL_LOGINS = { HASH_CONCURRENCY: '64' };

describe('ending a session ends its access token everywhere (pub/sub, no lookup per request)', function () {
  this.timeout(30_000);

  it('two instances on one Redis: a logout on A refuses the old access cookie on A at once and on B within 1 s, for 20 sessions at once', async () => {
    const { db, redis } = await testStores();
    const a = (await makeSite(PARALLEL_LOGINS)).app;
    const b = (await makeSite({}, { db, redis })).app;
    const users = await Promise.all(Array.from({ length: 20 }, () => loggedInUser(a)));
    for (const user of users) expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
    const logouts = await Promise.all(users.map((user) => logout(a, user)));
    expect(logouts.map((res) => res.status)).to.deep.equal(Array(20).fill(303));
    const onA = await Promise.all(users.map((user) => getInfo(a, { accessToken: user.accessToken })));
    expect(onA.filter((res) => isLoggedIn(res))).to.have.length(0);
    const delays = await Promise.all(users.map((user) => refusedWithin(b, user, 1000)));
    console.log(`      (refused on B after at most ${Math.max(...delays)} ms)`);
  });

  it('an instance whose Redis connection was cut during the logout refuses the token within 1 s of reconnecting', async () => {
    const a = (await makeSite()).app;
    const { b, proxy, close } = await siteBehindProxy();
    try {
      const user = await loggedInUser(a);
      proxy.cut();
      expect((await logout(a, user)).status).to.equal(303);
      await sleep(200);
      // B heard nothing: while Redis is away a valid access token keeps working there (the contract's outage rule).
      expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
      proxy.restore();
      const restoredAt = Date.now();
      await refusedWithin(b, user, 5000);
      console.log(`      (refused on B ${Date.now() - restoredAt} ms after the connection came back)`);
      expect(Date.now() - restoredAt).to.be.below(1000 + 2000); // reconnect back-off (at most 2 s) + 1 s
    } finally {
      await close();
    }
  });

  it('the session cap and reuse detection end access tokens too', async () => {
    const { app } = await makeSite({ MAX_SESSIONS_PER_USER: '1', REFRESH_REUSE_GRACE: '100ms' });
    const first = await loggedInUser(app);
    const second = await login(app, first.id);
    await refusedWithin(app, first, 1000);
    // The second session's refresh token is reused after the grace window: its newest access token ends as well.
    const stale = { accessToken: expire(second.accessToken), refreshToken: second.refreshToken };
    const newest = setCookies(await getInfo(app, stale)).accessToken.value;
    await sleep(200);
    expect(isLoggedIn(await getInfo(app, stale))).to.equal(false);
    await refusedWithin(app, { accessToken: newest }, 1000);
  });

  it('the set of ended sessions shrinks back once their access tokens have expired (no leak under many logouts)', async () => {
    const { app } = await makeSite({ ACCESS_TOKEN_TTL: '1s', ...PARALLEL_LOGINS });
    const { redis } = await testStores();
    const subscriber = testSubscriber();
    const ended = createEndedSessions({ redis, keyPrefix: redisKeyPrefix, accessTtlMs: 1000, logger: createLogger('silent') });
    try {
      ended.listen(subscriber);
      await until(() => ended.live, 'the listener was live');
      const users = await Promise.all(Array.from({ length: 40 }, () => loggedInUser(app)));
      await Promise.all(users.map((user) => logout(app, user)));
      await sleep(100);
      expect(users.filter((user) => ended.has(sidOf(user.accessToken)))).to.have.length(40);
      // Kept for the access lifetime plus a 2 s clock margin, swept every 3 s.
      const started = Date.now();
      while (ended.size > 0 && Date.now() - started < 8000) await sleep(200);
      expect(ended.size).to.equal(0);
    } finally {
      await subscriber.close();
    }
  });
});
