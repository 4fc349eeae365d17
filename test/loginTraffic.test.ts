import { expect } from 'chai';
import type { Redis, Subscriber } from '../src/config/clients.js';
import { HEARTBEAT_CHANNEL } from '../src/models/listenerHeartbeat.js';
import { makeSite, PASSWORD, postTo, register, setCookies, uniqueId, type App } from './helpers/site.js';
import { startPrivateRedis } from './helpers/privateRedis.js';
import { testSubscriber } from './helpers/stores.js';

/**
 * The client the app gets, wrapped: a round trip starts when the app sends a command while none is awaiting its
 * reply; commands sent while another is still out travel in the same round trip. `failScript` makes the scripts
 * whose first key it matches fail as an outage would, without reaching Redis. The ended-session listener's
 * heartbeats (a PUBLISH a few times a second, whatever the requests) are left out.
 */
function countRoundTrips(client: Redis) {
  let outstanding = 0;
  const probe = { trips: 0, commands: 0, failScript: undefined as RegExp | undefined };
  const wrapped = new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const keys = (args[1] as { keys?: string[] } | undefined)?.keys ?? [];
        if (prop === 'evalSha' && probe.failScript?.test(keys[0] ?? '')) return Promise.reject(new Error('injected outage'));
        const result: unknown = value.apply(target, args);
        const heartbeat = prop === 'publish' && String(args[0]).includes(`${HEARTBEAT_CHANNEL}:`);
        if (!(result instanceof Promise) || heartbeat) return result;
        probe.commands++;
        if (outstanding++ === 0) probe.trips++;
        return result.finally(() => outstanding--);
      };
    },
  });
  return { wrapped, probe };
}

describe('store traffic of a login (private redis-server, round trips counted at the client)', () => {
  let app: App;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let subscriber: Subscriber;
  let probe: ReturnType<typeof countRoundTrips>['probe'];
  before(async () => {
    redis = await startPrivateRedis();
    subscriber = testSubscriber(`redis://127.0.0.1:${redis.port}`);
    const counted = countRoundTrips(redis.client);
    probe = counted.probe;
    ({ app } = await makeSite({}, { redis: counted.wrapped, subscriber }));
  });
  after(async () => {
    await subscriber.close();
    await redis.stop();
  });

  async function loginCounted(id: string) {
    probe.trips = probe.commands = 0;
    const res = await postTo(app, '/user/login').send({ id, password: PASSWORD });
    return { res, trips: probe.trips, commands: probe.commands };
  }

  it('a successful login costs 2 Redis round trips: the reservation, then the release and the session create together', async () => {
    const id = uniqueId();
    await register(app, { id });
    await loginCounted(id); // loads the scripts once
    const { res, trips, commands } = await loginCounted(id);
    expect(res.status).to.equal(303);
    expect(commands).to.equal(3);
    expect(trips).to.equal(2);
  });

  it('a session create that fails is a 503 without cookies, even though the release went out with it', async () => {
    const id = uniqueId();
    await register(app, { id });
    probe.failScript = /:session:\{/;
    try {
      const { res } = await loginCounted(id);
      expect(res.status).to.equal(503);
      expect(setCookies(res)).to.not.have.property('accessToken');
      expect(setCookies(res)).to.not.have.property('refreshToken');
    } finally {
      probe.failScript = undefined;
    }
    expect((await loginCounted(id)).res.status, 'works again').to.equal(303);
  });
});
