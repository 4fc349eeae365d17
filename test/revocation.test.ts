import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { pino, type Logger } from 'pino';
import request from 'supertest';
import { createRedis, STORE_TIMEOUT_MS } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { createEndedSessions } from '../src/services/endedSessions.js';
import jwt from 'jsonwebtoken';
import { cookieHeader, expire, getInfo, isLoggedIn, loggedInUser, login, makeSite, refusedWithin, setCookies, type App, type Tokens } from './helpers/site.js';
import { REDIS_URL, redisKeyPrefix, testStores, testSubscriber } from './helpers/stores.js';
import { startTcpProxy } from './helpers/tcpProxy.js';
import { until } from './helpers/until.js';

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

const readiness = async (app: App) => {
  const res = await request(app).get('/readyz');
  return { status: res.status, listener: res.body.listener as string };
};

/** A logger whose entries a test reads; pino writes to the stream as it logs, so `onEntry` runs at that moment. */
function capturingLogger(onEntry: (entry: { level: number; msg: string; cause?: string }) => void = () => undefined) {
  const entries: { level: number; msg: string; cause?: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).trim().split('\n')) {
        const entry = JSON.parse(line) as { level: number; msg: string; cause?: string };
        entries.push(entry);
        onEntry(entry);
      }
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), entries };
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

describe('a listener that goes silent (its connection black-holed: the socket stays open, nothing comes through)', function () {
  this.timeout(30_000);
  // A listener reads the ended-session log when it starts and once more a second later.
  const STARTUP_READS_MS = 1100;
  const DEGRADED = "ended-session listener degraded: each access token's session is checked in Redis until it is live again";

  it('is noticed within 2 s: sessions ended meanwhile are refused (asked of Redis), others kept, /readyz 200 "degraded"; a new connection makes it live', async () => {
    const a = (await makeSite()).app;
    const { logger, entries } = capturingLogger();
    const { b, proxy, close } = await siteBehindProxy(logger);
    try {
      const [ended, control] = [await loggedInUser(a), await loggedInUser(a)];
      for (const user of [ended, control]) expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
      await sleep(STARTUP_READS_MS); // what B learns from now on, it hears by pub/sub or asks Redis
      proxy.blackholeListening({ later: true });
      expect((await logout(a, ended)).status).to.equal(303);
      console.log(`      (refused on B after ${await refusedWithin(b, ended, 2000)} ms)`);
      expect(isLoggedIn(await getInfo(b, control)), 'a live session on B').to.equal(true);
      expect(await readiness(b)).to.deep.equal({ status: 200, listener: 'degraded' });
      expect(entries.filter((entry) => entry.msg === DEGRADED).map((entry) => entry.cause)).to.deep.equal(['silent']);

      // New connections get through again, the black-holed ones stay so: B replaces its own and is live again.
      proxy.restore();
      await until(async () => (await readiness(b)).listener === 'live', 'B live again', 3000);
      await until(() => proxy.listening.open === 1, 'the black-holed connections closed', 1000);
      const later = await loggedInUser(a);
      expect(isLoggedIn(await getInfo(b, later))).to.equal(true);
      expect((await logout(a, later)).status).to.equal(303);
      await refusedWithin(b, later, 1000);
      expect((await readiness(b)).listener, 'refused while live: heard by pub/sub').to.equal('live');
      expect(isLoggedIn(await getInfo(b, control))).to.equal(true);
    } finally {
      await close();
    }
  });

  it('while every new listening connection is black-holed too, it stays degraded: ended sessions refused, valid ones kept', async () => {
    const a = (await makeSite()).app;
    const { b, proxy, close } = await siteBehindProxy();
    try {
      const control = await loggedInUser(a);
      const users = [await loggedInUser(a), await loggedInUser(a), await loggedInUser(a)];
      const before = proxy.listening.subscribed;
      await sleep(STARTUP_READS_MS);
      proxy.blackholeListening({ later: true });
      for (const user of users) {
        expect((await logout(a, user)).status).to.equal(303);
        await refusedWithin(b, user, 2000);
        await sleep(500);
      }
      for (const user of users) expect(isLoggedIn(await getInfo(b, { accessToken: user.accessToken }))).to.equal(false);
      expect(isLoggedIn(await getInfo(b, control)), 'a live session on B').to.equal(true);
      expect(await readiness(b)).to.deep.equal({ status: 200, listener: 'degraded' });
      // B kept replacing its connection (a new one each second), and closed each one it replaced.
      expect(proxy.listening.subscribed - before).to.be.at.least(2);
      expect(proxy.listening.open).to.equal(1);
      // Then Redis goes away entirely: the check fails, and the valid token keeps working (the outage rule).
      proxy.cut();
      expect(isLoggedIn(await getInfo(b, control)), 'a live session, Redis gone').to.equal(true);
    } finally {
      await close();
    }
  });

  it('Redis down for B (cut, then hanging): valid access tokens keep working, without waiting on Redis; back, B refuses what ended meanwhile', async () => {
    const a = (await makeSite()).app;
    const { b, proxy, redis, subscriber, close } = await siteBehindProxy();
    try {
      const [user, ended] = [await loggedInUser(a), await loggedInUser(a)];
      proxy.cut();
      expect((await logout(a, ended)).status).to.equal(303);
      await until(async () => (await readiness(b)).listener === 'degraded', 'B degraded', 2000);
      expect(await readiness(b)).to.deep.equal({ status: 503, listener: 'degraded' });
      // The outage rule: B cannot ask Redis, so every valid access token keeps working, the ended one too.
      for (const tokens of [user, ended]) expect(isLoggedIn(await getInfo(b, { accessToken: tokens.accessToken }))).to.equal(true);

      const ready = { command: 0, listening: 0 };
      redis.on('ready', () => (ready.command ||= Date.now()));
      subscriber.on('ready', () => (ready.listening ||= Date.now()));
      proxy.restore();
      await until(() => ready.command > 0 && ready.listening > 0, 'both connections back', 5000);
      const reconnectedAt = Math.max(ready.command, ready.listening);
      await refusedWithin(b, ended, 1000);
      console.log(`      (refused on B ${Date.now() - reconnectedAt} ms after both connections were back)`);
      expect(Date.now() - reconnectedAt).to.be.below(1000);
      await until(async () => (await readiness(b)).listener === 'live', 'B live again', 2000);

      // A Redis that hangs: once B noticed, a page with a valid token does not wait for the store timeout (2 s).
      proxy.freeze();
      await sleep(1500);
      const started = Date.now();
      expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
      expect(Date.now() - started).to.be.below(STORE_TIMEOUT_MS);
      expect(isLoggedIn(await getInfo(b, { accessToken: ended.accessToken }))).to.equal(false);
      proxy.restore();
      await until(async () => (await readiness(b)).listener === 'live', 'B live again', 5000);
    } finally {
      await close();
    }
  });

  it('an event loop too busy to run timers is no silence: 2 s of blocking leave the listener live, on its first connection', async () => {
    const { redis } = await testStores();
    const { logger, entries } = capturingLogger();
    const subscriber = testSubscriber();
    const ended = createEndedSessions({ redis, keyPrefix: redisKeyPrefix, accessTtlMs: 600_000, logger });
    try {
      ended.listen(subscriber);
      await until(() => ended.live, 'the listener live');
      for (const end = Date.now() + 2000; Date.now() < end;); // the beats come back meanwhile, unread
      await sleep(1000);
      expect(entries.map((entry) => entry.msg)).to.deep.equal(['ended-session listener live']);
      expect(ended.live).to.equal(true);
    } finally {
      await subscriber.close();
    }
  });

  it('closing the subscriber (as closeStores does) stops the heartbeat', async () => {
    const { redis } = await testStores();
    const keyPrefix = `${redisKeyPrefix}stopping:`;
    const subscriber = testSubscriber();
    const ended = createEndedSessions({ redis, keyPrefix, accessTtlMs: 600_000, logger: createLogger('silent') });
    const beats = createRedis(REDIS_URL, createLogger('silent'), { subscriber: true });
    await beats.connect();
    let heard = 0;
    try {
      await beats.pSubscribe(`${keyPrefix}listener-heartbeat:*`, () => heard++);
      ended.listen(subscriber);
      await until(() => ended.live && heard > 0, 'the listener live, beating');
      await subscriber.close();
      await sleep(300); // a beat on its way
      const afterClose = heard;
      await sleep(1000);
      expect(heard - afterClose).to.equal(0);
    } finally {
      beats.destroy();
    }
  });

  it('reconnected, it reads the log at once: a session ended meanwhile is known within 500 ms of the ready, and it is never live before', async () => {
    const a = (await makeSite()).app;
    const { redis } = await testStores();
    const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    const subscriber = testSubscriber(`redis://127.0.0.1:${proxy.port}`);
    let sid = '';
    const knewWhenLive: boolean[] = [];
    const { logger } = capturingLogger((entry) => entry.msg === 'ended-session listener live' && sid && knewWhenLive.push(ended.has(sid)));
    const ended = createEndedSessions({ redis, keyPrefix: redisKeyPrefix, accessTtlMs: 600_000, logger });
    try {
      ended.listen(subscriber);
      await until(() => ended.live, 'the listener live');
      const user = await loggedInUser(a);
      sid = sidOf(user.accessToken);
      await sleep(STARTUP_READS_MS); // from now on it learns of the session only by catching up after the reconnect
      proxy.cut();
      await until(() => !ended.live, 'the listener degraded', 2000);
      expect((await logout(a, user)).status).to.equal(303);
      expect(ended.has(sid), 'heard nothing').to.equal(false);

      let readyAt = 0;
      subscriber.on('ready', () => (readyAt ||= Date.now()));
      proxy.restore();
      await until(() => ended.has(sid), 'the ended session known', 5000);
      const ms = Date.now() - readyAt;
      console.log(`      (known ${ms} ms after the listening connection was ready again)`);
      expect(readyAt, 'a ready event').to.be.above(0);
      expect(ms).to.be.below(500);
      await until(() => ended.live, 'the listener live again', 1000);
      expect(knewWhenLive).to.deep.equal([true]);
    } finally {
      await subscriber.close();
      await proxy.close();
    }
  });
});
