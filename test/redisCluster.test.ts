import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { pino } from 'pino';
import type { RowDataPacket } from 'mysql2';
import request from 'supertest';
import { createClusterSubscriber, createRedisCluster, createSubscriber, type RedisCluster, type Subscriber } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { missingClusterTools, startRedisCluster, type LocalCluster } from './helpers/redisCluster.js';
import { ko } from './helpers/i18n.js';
import { expectUnavailable } from './helpers/outage.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';
import { until } from './helpers/until.js';
import {
  cookieHeader,
  expire,
  getInfo,
  isLoggedIn,
  loggedInUser,
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

const run = promisify(execFile);
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const jtiOf = (refreshToken: string) => (jwt.decode(refreshToken) as { jti: string }).jti;
const refresh = (app: App, tokens: Tokens) => getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken });

describe('on a Redis Cluster (3 local masters, REDIS_CLUSTER_NODES)', function () {
  this.timeout(60_000);
  let cluster: LocalCluster;
  let redis: RedisCluster;
  const subscribers: Subscriber[] = [];
  /** A listening connection of a site's own: the cluster's pub/sub connection, or a client on one node. */
  const listener = (seed?: string) => {
    const subscriber = seed ? createSubscriber(`redis://${seed}`, createLogger('silent')) : createClusterSubscriber(cluster.seeds, createLogger('silent'));
    subscribers.push(subscriber);
    return subscriber;
  };
  const site = (env: Record<string, string> = {}) => makeSite({ TRUST_PROXY: 'true', ...env }, { redis, subscriber: listener() }).then(({ app }) => app);

  before(async function () {
    const missing = missingClusterTools();
    if (missing) {
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    cluster = await startRedisCluster();
    redis = createRedisCluster(cluster.seeds, createLogger('silent'));
    await redis.connect();
  });

  after(async () => {
    await Promise.allSettled([redis?.close(), ...subscribers.map((subscriber) => subscriber.close())]);
    await cluster?.stop();
  });

  it('registers, logs in, and refreshes with the keys spread over the masters', async () => {
    const app = await site();
    const users = await Promise.all(Array.from({ length: 6 }, () => loggedInUser(app)));
    for (const user of users) expect(isLoggedIn(await refresh(app, user))).to.equal(true);
    const keysPerMaster = await Promise.all(cluster.ports.map(async (port) => Number((await run('redis-cli', ['-p', String(port), 'dbsize'])).stdout)));
    expect(keysPerMaster.filter((keys) => keys > 0).length, `keys per master: ${keysPerMaster.join(', ')}`).to.be.at.least(2);
  });

  it('20 parallel refreshes with the same tokens all succeed and exactly one rotates', async () => {
    const app = await site();
    const user = await loggedInUser(app);
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(app, user)));
    expect(responses.map((res) => isLoggedIn(res))).to.deep.equal(Array(20).fill(true));
    const jtis = new Set(responses.map((res) => jtiOf(setCookies(res).refreshToken.value)));
    expect(jtis.size).to.equal(1);
    expect([...jtis][0]).to.not.equal(jtiOf(user.refreshToken));
  });

  it('a rotated-out refresh token works within REFRESH_REUSE_GRACE; later it revokes the whole session', async () => {
    const app = await site({ REFRESH_REUSE_GRACE: '1s' });
    const user = await loggedInUser(app);
    const newest = setCookies(await refresh(app, user)).refreshToken.value;
    expect(isLoggedIn(await refresh(app, user)), 'within the grace window').to.equal(true);
    await sleep(1200);
    const reuse = await refresh(app, user);
    expect(isLoggedIn(reuse)).to.equal(false);
    expect(setCookies(reuse).refreshToken.value).to.equal('');
    expect(isLoggedIn(await refresh(app, { ...user, refreshToken: newest })), 'the newest token after reuse').to.equal(false);
  });

  it('a logout on one instance refuses the access token on another, listening on another node, within 1 s (20 sessions at once)', async () => {
    const a = await site();
    const b = (await makeSite({}, { redis, subscriber: listener(cluster.seeds[2]) })).app;
    const users = [];
    for (let i = 0; i < 20; i++) users.push(await loggedInUser(a)); // one by one: hashing waits at most 2 s
    for (const user of users) expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
    const logouts = await Promise.all(users.map((user) => request(a).get('/user/logout').set('Cookie', cookieHeader(user))));
    expect(logouts.map((res) => res.status)).to.deep.equal(Array(20).fill(303));
    const started = Date.now();
    let stillIn = users;
    while (stillIn.length > 0 && Date.now() - started < 1000) {
      const pages = await Promise.all(stillIn.map((user) => getInfo(b, { accessToken: user.accessToken })));
      stillIn = stillIn.filter((_, i) => isLoggedIn(pages[i]));
      await sleep(10);
    }
    expect(stillIn, 'access tokens still accepted on B after 1 s').to.have.length(0);
  });

  it('the listener proves itself across the cluster, and when its node goes silent (DEBUG SLEEP) it is noticed and replaced', async () => {
    const a = await site();
    const heartbeatChannels = async () => {
      const listed = await Promise.all(
        cluster.ports.map((port) => run('redis-cli', ['-p', String(port), 'pubsub', 'channels', `${redisKeyPrefix}listener-heartbeat:*`])),
      );
      return new Set(listed.flatMap(({ stdout }) => stdout.split('\n').filter(Boolean)));
    };
    /** How many connections of each master subscribe to `channel` (PUBSUB is per node on a cluster). */
    const subscriptions = (channel: string) =>
      Promise.all(cluster.ports.map(async (port) => Number((await run('redis-cli', ['-p', String(port), 'pubsub', 'numsub', channel])).stdout.split('\n')[1])));
    const others = await heartbeatChannels();
    // B's log, each line with when it was written.
    const lines: { at: number; line: string }[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push({ at: Date.now(), line: String(chunk) }), done()) });
    const logged = (text: string) => lines.find(({ line }) => line.includes(text));
    const b = (await makeSite({}, { redis, subscriber: listener() }, pino({ level: 'debug' }, sink))).app;
    // makeSite waited for B's heartbeats, PUBLISHed on any master, to come back on its pub/sub connection.
    expect((await request(b).get('/readyz')).body.listener).to.equal('live');
    const [channel] = [...(await heartbeatChannels())].filter((name) => !others.has(name));
    const silent = cluster.ports[(await subscriptions(channel)).indexOf(1)];

    const sleptAt = Date.now();
    const sleeping = run('redis-cli', ['-p', String(silent), 'debug', 'sleep', '3'], { timeout: 10_000 });
    await until(() => logged('replacing its connection') !== undefined, 'B replaced its listening connection', 3000);
    const noticed = logged('ended-session listener degraded');
    expect(noticed?.line, 'a warning').to.include('"cause":"silent"');
    console.log(`      (noticed ${noticed!.at - sleptAt} ms after the node went silent)`);
    expect(noticed!.at - sleptAt).to.be.below(2000);
    await sleeping;
    await until(async () => (await request(b).get('/readyz')).body.listener === 'live', 'B live again after its node woke', 15_000);
    // One connection listens for B now: the ones it replaced were dropped.
    await until(async () => (await subscriptions(channel)).reduce((sum, n) => sum + n, 0) === 1, "one subscription to B's channel", 2000);
    const user = await loggedInUser(a);
    expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
    expect((await request(a).get('/user/logout').set('Cookie', cookieHeader(user))).status).to.equal(303);
    await refusedWithin(b, user, 1000);
    expect((await request(b).get('/readyz')).body.listener, 'heard on the new connection').to.equal('live');
  });

  it("a login whose throttle node stops taking writes after the reserve (CLIENT PAUSE WRITE) answers 503, and leaves no session and no login in the account's activity", async () => {
    const app = await site();
    const masterOf = async (key: string) =>
      Number(redis.slots[Number((await run('redis-cli', ['-p', String(cluster.ports[0]), 'cluster', 'keyslot', key])).stdout)].master.port);
    // A network whose throttle keys live on a master of their own: not the ended-session log's (a session ended
    // records itself there), not the account's.
    let ip = someIp();
    const throttleKey = (id: string) => `${redisKeyPrefix}rl:login:{${ip}}:id:${id}`;
    while ((await masterOf(throttleKey(''))) === (await masterOf(`${redisKeyPrefix}ended-sessions`))) ip = someIp();
    const throttleNode = await masterOf(throttleKey(''));
    let id = uniqueId();
    while ((await masterOf(`{${id}}`)) === throttleNode) id = uniqueId();
    await register(app, { id });
    const loginFrom = () => postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id, password: PASSWORD });
    expect((await loginFrom()).status).to.equal(303);

    const node = await redis.nodeClient(redis.masters.find((master) => master.port === throttleNode)!);
    // Three unknown ids' logins first, from other networks: the attempt's hash waits behind theirs (one at a time).
    const ahead = Array.from({ length: 3 }, () =>
      Promise.resolve(postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: uniqueId(), password: PASSWORD })),
    );
    const attempt = Promise.resolve(loginFrom());
    // The reserve has counted the attempt: the password is being checked (argon2, tens of ms) when writes stop.
    await until(async () => (await redis.exists(throttleKey(id))) === 1, 'the attempt reserved', 2000);
    await node.sendCommand(['CLIENT', 'PAUSE', '4000', 'WRITE']);
    try {
      await expectUnavailable(attempt);
    } finally {
      await node.sendCommand(['CLIENT', 'UNPAUSE']);
      await Promise.all(ahead);
    }
    const { db } = await testStores();
    const [[{ n }]] = await db.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM security_events WHERE account_id = ? AND kind = 'login'", [id]);
    expect(n, 'logins in the activity: the first only').to.equal(1);
    const again = setCookies(await loginFrom());
    const info = await getInfo(app, { accessToken: again.accessToken.value });
    expect(info.text, 'the first login and this one: the refused one left no session').to.include(ko('security.sessions', { count: 2 }));
  });

  it('MAX_SESSIONS_PER_USER holds against 20 parallel logins of one account', async () => {
    // Parallel logins of one id are each counted as a failure until checked: the throttle is raised here.
    const app = await site({ MAX_SESSIONS_PER_USER: '3', LOGIN_MAX_FAILURES: '100' });
    const id = uniqueId();
    await register(app, { id });
    // On a busy machine some of the 20 hashes wait past 2 s: 503 (the overload answer), no session.
    const answers = await Promise.all(Array.from({ length: 20 }, () => postTo(app, '/user/login').send({ id, password: PASSWORD })));
    expect(answers.every((res) => [303, 503].includes(res.status))).to.equal(true);
    const sessions = answers.filter((res) => res.status === 303).map((res) => setCookies(res));
    expect(sessions.length, 'logins that got a session').to.be.at.least(4);
    const live = [];
    for (const cookies of sessions)
      live.push(isLoggedIn(await refresh(app, { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value })));
    expect(count(live.map(Number), 1)).to.equal(3);
  });

  it('of 30 parallel wrong logins for one id at most LOGIN_MAX_FAILURES get 401, the rest 429', async () => {
    const app = await site({ LOGIN_MAX_FAILURES: '5' });
    const id = uniqueId();
    await register(app, { id });
    const ip = someIp();
    const attempt = (password: string) => postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id, password });
    const statuses = (await Promise.all(Array.from({ length: 30 }, () => attempt('wrong password here')))).map((res) => res.status);
    expect(count(statuses, 401)).to.equal(5);
    expect(count(statuses, 429)).to.equal(25);
    expect((await attempt(PASSWORD)).status).to.equal(429);
  });

  it('REGISTER_MAX_PER_IP holds against 20 parallel registrations', async () => {
    const app = await site({ REGISTER_MAX_PER_IP: '4' });
    const ip = someIp();
    const send = () =>
      postTo(app, '/user/register').set('X-Forwarded-For', ip).send({ id: uniqueId(), name: 'Kim', password: PASSWORD, confirmPassword: PASSWORD });
    const statuses = (await Promise.all(Array.from({ length: 20 }, send))).map((res) => res.status);
    expect(count(statuses, 303)).to.equal(4);
    expect(count(statuses, 429)).to.equal(16);
  });

  it('a master restarted without failover (SHUTDOWN, AOF on) loses no session', async () => {
    const app = await site();
    const users = await Promise.all(Array.from({ length: 9 }, () => loggedInUser(app)));
    const keysPerMaster = await Promise.all(cluster.ports.map(async (port) => Number((await run('redis-cli', ['-p', String(port), 'dbsize'])).stdout)));
    const busiest = cluster.ports[keysPerMaster.indexOf(Math.max(...keysPerMaster))];
    await cluster.restartMaster(busiest);
    for (const user of users) {
      let res = await refresh(app, user);
      // Until the client has reconnected to the restarted node the refresh is an outage (503, cookies kept).
      for (const deadline = Date.now() + 10_000; res.status === 503 && Date.now() < deadline; res = await refresh(app, user)) await sleep(100);
      expect(isLoggedIn(res), `session of ${user.id} after the restart`).to.equal(true);
    }
  });
});

describe('on a Redis Cluster with a replica per master, a master lost for good (failover)', function () {
  this.timeout(90_000);
  let cluster: LocalCluster;
  let redis: RedisCluster;
  const subscribers: Subscriber[] = [];
  const siteListeningOn = async (subscriber: Subscriber) => (subscribers.push(subscriber), (await makeSite({}, { redis, subscriber })).app);
  const clusterSubscriber = () => createClusterSubscriber(cluster.seeds, createLogger('silent'));

  before(async function () {
    const missing = missingClusterTools();
    if (missing) {
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    cluster = await startRedisCluster({ replicas: 1 });
    redis = createRedisCluster(cluster.seeds, createLogger('silent'));
    await redis.connect();
  });

  after(async () => {
    await Promise.allSettled([redis?.close(), ...subscribers.map((subscriber) => subscriber.close())]);
    await cluster?.stop();
  });

  /** Logs out on `site`, trying again while the cluster's clients find the new master (503 meanwhile). */
  async function logout(site: App, user: Tokens) {
    for (const deadline = Date.now() + 20_000; ; await sleep(100)) {
      const res = await request(site).get('/user/logout').set('Cookie', cookieHeader(user));
      if (res.status !== 503 || Date.now() > deadline) return res.status;
    }
  }

  /** The master that B's pub/sub connection is on: the only one with a subscribed channel before A starts. */
  async function listeningMaster(): Promise<number> {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
      const channels = await Promise.all(cluster.ports.map(async (port) => (await run('redis-cli', ['-p', String(port), 'pubsub', 'channels'])).stdout.trim()));
      const listening = cluster.ports.filter((_, i) => channels[i] !== '');
      if (listening.length === 1) return listening[0];
    }
    throw new Error('no master has the subscription');
  }

  it('a session ended on one instance is still refused on another after the master it listened on is lost (cluster pub/sub)', async () => {
    const b = await siteListeningOn(clusterSubscriber());
    const lost = await listeningMaster();
    const a = await siteListeningOn(clusterSubscriber());
    const users = [];
    for (let i = 0; i < 20; i++) users.push(await loggedInUser(a)); // one by one: hashing waits at most 2 s
    for (const user of users) expect(isLoggedIn(await getInfo(b, user))).to.equal(true);
    await cluster.stopNode(lost);

    // Ended while B's pub/sub connection may be moving to another node: refused once it has (the catch-up).
    const [first, rest] = [users.slice(0, 10), users.slice(10)];
    expect(await Promise.all(first.map((user) => logout(a, user)))).to.deep.equal(Array(10).fill(303));
    for (const user of first) await refusedWithin(b, user, 20_000);
    // Then the subscription itself carries announcements again: 10 sessions at once, each refused within 1 s.
    expect(await Promise.all(rest.map((user) => logout(a, user)))).to.deep.equal(Array(10).fill(303));
    await Promise.all(rest.map((user) => refusedWithin(b, user, 1000)));
  });
});
