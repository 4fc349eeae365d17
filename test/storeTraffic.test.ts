import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import request from 'supertest';
import type { RowDataPacket } from 'mysql2/promise';
import { cookieHeader, expire, getInfo, isLoggedIn, loggedInUser, login, makeSite, type App } from './helpers/site.js';
import { startPrivateRedis } from './helpers/privateRedis.js';
import { startTcpProxy } from './helpers/tcpProxy.js';
import { until } from './helpers/until.js';
import { countByName, watchSentCommands } from './helpers/sentCommands.js';
import { hookedPool } from './helpers/hookedPool.js';
import { testStores, testSubscriber } from './helpers/stores.js';
import type { Subscriber } from '../src/config/clients.js';

describe('store traffic of jwt_auth (private redis-server, counted by MONITOR, the listener heartbeats left out)', () => {
  let app: App;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let subscriber: Subscriber;
  let sent: Awaited<ReturnType<typeof watchSentCommands>>;
  let queries = 0;
  before(async () => {
    redis = await startPrivateRedis();
    subscriber = testSubscriber(`redis://127.0.0.1:${redis.port}`);
    sent = await watchSentCommands(redis.client);
    const { db } = await testStores();
    // Count MySQL statements too, on the connections of the pool the app gets.
    const countingDb = hookedPool(db, (_sql, _values, run) => (queries++, run()), ['execute', 'query']);
    ({ app } = await makeSite({}, { db: countingDb, redis: redis.client, subscriber }));
  });
  after(async () => {
    await Promise.all([sent.stop(), subscriber.close()]);
    await redis.stop();
  });

  /** Which commands Redis ran (a script's own calls too), and how often, while `action` ran. */
  const commandsDuring = async (action: () => Promise<unknown>) => countByName((await sent.during(action)).commands);

  it('a valid access token costs no Redis command and no MySQL query (the page’s security summary read once, then kept)', async () => {
    const user = await loggedInUser(app);
    const firstView = await commandsDuring(() => getInfo(app, user));
    expect(firstView, 'the summary: the live sessions of the account').to.deep.equal({ zrange: 1, exists: 1 });
    const queriesBefore = queries;
    const { commands, heartbeats } = await sent.during(async () => {
      for (let i = 0; i < 5; i++) expect(isLoggedIn(await getInfo(app, user))).to.equal(true);
      await sleep(300); // longer than a heartbeat's period: the count below shows them left out, not missed
    });
    expect(countByName(commands)).to.deep.equal({});
    expect(heartbeats, 'heartbeats meanwhile (left out)').to.be.at.least(1);
    expect(queries - queriesBefore).to.equal(0);
  });

  it('while the listener is degraded, a valid access token costs one EXISTS; a session found ended is remembered', async () => {
    // A second site whose listening connection goes through a proxy that then lets nothing through.
    const proxy = await startTcpProxy(redis.port);
    const listening = testSubscriber(`redis://127.0.0.1:${proxy.port}`);
    try {
      const { app: degraded } = await makeSite({}, { redis: redis.client, subscriber: listening });
      const [user, ended] = [await loggedInUser(app), await loggedInUser(app)];
      await sleep(1100); // past the listener's second read of the log after its start: what is counted is the check alone
      proxy.freeze();
      await until(async () => (await request(degraded).get('/readyz')).body.listener === 'degraded', 'the listener degraded', 2000);
      // The sessions page: its own list (ZRANGE, HGETALL) and the degraded check (EXISTS), nothing more.
      const sessionsPage = (tokens: { accessToken: string }) => request(degraded).get('/user/sessions').set('Cookie', cookieHeader(tokens));
      expect(await commandsDuring(async () => expect((await sessionsPage(user)).status).to.equal(200))).to.deep.equal({ exists: 1, zrange: 1, hgetall: 1 });
      expect((await request(app).get('/user/logout').set('Cookie', cookieHeader(ended))).status).to.equal(303);
      const refused = async () => expect(isLoggedIn(await getInfo(degraded, { accessToken: ended.accessToken }))).to.equal(false);
      expect(await commandsDuring(refused)).to.deep.equal({ exists: 1 });
      expect(await commandsDuring(refused), 'the second time').to.deep.equal({});
    } finally {
      await listening.close();
      await proxy.close();
    }
  });

  it('a password login from a known device costs 2 MySQL statements (the account read; its activity row written while the account is as checked) and 3 Redis commands', async () => {
    const user = await loggedInUser(app);
    await login(app, user.id); // the device is known from now on: no alert, which would read the account's address
    await sleep(200); // the first login's alert check (it reads the account, after the answer) is done
    const queriesBefore = queries;
    const commands = await sent.during(() => login(app, user.id));
    expect(queries - queriesBefore, 'MySQL statements').to.equal(2);
    expect(commands.commands.filter((command) => !command.byScript).length, 'Redis commands sent').to.equal(3);
    const { db } = await testStores();
    const [rows] = await db.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS logins FROM security_events JOIN users ON users.pk = security_events.user_pk WHERE users.id = ? AND kind LIKE 'login%'",
      [user.id],
    );
    expect(rows[0].logins, 'every login recorded').to.equal(3);
  });

  it('a refresh (case 3) costs one Redis round trip (one EVALSHA) and no MySQL query', async () => {
    const user = await loggedInUser(app);
    await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken }); // loads the script once
    const next = await loggedInUser(app);
    await getInfo(app, next); // the page's security summary, read once and kept
    const queriesBefore = queries;
    const commands = await commandsDuring(async () => {
      const res = await getInfo(app, { accessToken: expire(next.accessToken), refreshToken: next.refreshToken });
      expect(isLoggedIn(res)).to.equal(true);
    });
    // The script's own commands are counted too; the only command sent by the app is the EVALSHA.
    expect(commands).to.deep.equal({ evalsha: 1, hmget: 1, hset: 1, pexpire: 1, zadd: 1 });
    expect(queries - queriesBefore).to.equal(0);
  });
});
