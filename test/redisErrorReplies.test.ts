import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { ErrorReply } from 'redis';
import request from 'supertest';
import { createRedis, type Subscriber } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { redisCall, StoreUnavailableError } from '../src/models/storeErrors.js';
import { freePort } from './helpers/freePort.js';
import { expectUnavailable } from './helpers/outage.js';
import { startPrivateRedis } from './helpers/privateRedis.js';
import { cookieHeader, expire, getInfo, isLoggedIn, loggedInUser, makeSite, PASSWORD, postTo, setCookies, type App } from './helpers/site.js';
import { redisKeyPrefix, testStores, testSubscriber } from './helpers/stores.js';

/**
 * A Redis that answers but refuses (OOM when full under noeviction, READONLY after a failover, LOADING while it
 * reads its data) is an outage: login, refresh and logout answer 503 and keep the cookies; nothing is a 500.
 */
describe('Redis error replies are outages (private redis-server)', function () {
  this.timeout(60_000);
  let app: App;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let admin: ReturnType<typeof createRedis>;
  let subscriber: Subscriber;

  before(async () => {
    redis = await startPrivateRedis(['--enable-debug-command', 'yes']);
    admin = createRedis(`redis://127.0.0.1:${redis.port}`, createLogger('silent'));
    await admin.connect();
    const { db } = await testStores();
    subscriber = testSubscriber(`redis://127.0.0.1:${redis.port}`);
    ({ app } = await makeSite({}, { db, redis: redis.client, subscriber }));
  });
  after(async () => {
    await Promise.all([admin.close(), subscriber.close()]);
    await redis.stop();
  });

  /** While Redis refuses, the requests named are 503 with the cookies kept, the others never a 500. */
  async function refusedThenRecovered(refuse: () => Promise<void>, recover: () => Promise<void>, mustRefuse: string[]) {
    const user = await loggedInUser(app);
    const stale = { accessToken: expire(user.accessToken), refreshToken: user.refreshToken };
    await refuse();
    try {
      const pending: Record<string, Promise<request.Response>> = {
        refresh: Promise.resolve(getInfo(app, stale)),
        login: Promise.resolve(postTo(app, '/user/login').send({ id: user.id, password: PASSWORD })),
        logout: Promise.resolve(request(app).get('/user/logout').set('Cookie', cookieHeader(user))),
      };
      for (const name of mustRefuse) await expectUnavailable(pending[name]);
      for (const res of await Promise.all(Object.values(pending))) expect(res.status).to.be.oneOf([303, 503]);
    } finally {
      await recover();
    }
    return stale;
  }

  it('OOM (maxmemory reached under noeviction): 503 for refresh and login; a logout still goes through', async () => {
    // Under OOM Redis still deletes, so a logout ends the session: that is a logout, not a failure.
    await refusedThenRecovered(
      async () => void (await admin.configSet('maxmemory', '1')),
      async () => void (await admin.configSet('maxmemory', '0')),
      ['refresh', 'login'],
    );
  });

  it('READONLY (a replica after failover): 503 for refresh, login and logout, and the session survives', async () => {
    const nowhere = await freePort();
    const stale = await refusedThenRecovered(
      async () => void (await admin.sendCommand(['REPLICAOF', '127.0.0.1', String(nowhere)])),
      async () => void (await admin.sendCommand(['REPLICAOF', 'NO', 'ONE'])),
      ['refresh', 'login', 'logout'],
    );
    expect(isLoggedIn(await getInfo(app, stale))).to.equal(true);
  });

  it('LOADING (Redis reading its data after a restart): 503 for refresh, login and logout', async () => {
    // A million keys take Redis a few seconds to load again; the requests are sent once it says LOADING.
    await admin.sendCommand(['SELECT', '1']);
    await admin.sendCommand(['DEBUG', 'POPULATE', '1000000']);
    const probe = createRedis(`redis://127.0.0.1:${redis.port}`, createLogger('silent'));
    await probe.connect();
    let reload: Promise<unknown> = Promise.resolve();
    const stale = await refusedThenRecovered(
      async () => {
        reload = admin.sendCommand(['DEBUG', 'RELOAD']).catch(() => undefined);
        for (let i = 0; i < 200; i++) {
          const answer = await probe.get('anything').then(
            () => 'ok',
            (err: Error) => err.message,
          );
          if (answer.startsWith('LOADING')) return;
          await sleep(20);
        }
        throw new Error('Redis never said LOADING');
      },
      async () => {
        await reload;
        await probe.close();
        await admin.sendCommand(['FLUSHDB']);
      },
      ['refresh', 'login', 'logout'],
    );
    expect(isLoggedIn(await getInfo(app, stale))).to.equal(true);
    expect(setCookies(await getInfo(app, stale)).accessToken.value).to.not.equal('');
  });
});

describe('which Redis errors are outages', () => {
  it('an error reply that is a bug (WRONGTYPE) stays an error, not an outage; an outage reply becomes one', async () => {
    const { redis } = await testStores();
    const key = `${redisKeyPrefix}not-a-hash`;
    await redis.set(key, 'x');
    const bug = await redisCall(() => redis.hGet(key, 'field')).catch((err: Error) => err);
    expect(bug).to.be.instanceOf(ErrorReply).and.not.instanceOf(StoreUnavailableError);
    const outage = await redisCall(() => Promise.reject(new ErrorReply("READONLY You can't write against a read only replica."))).catch((err: Error) => err);
    expect(outage).to.be.instanceOf(StoreUnavailableError).and.to.include({ reason: 'READONLY' });
  });
});
