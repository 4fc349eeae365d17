import { setTimeout as sleep } from 'node:timers/promises';
import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { createRateLimits } from '../src/models/rateLimits.js';
import { makeSite, PASSWORD, postTo, register, uniqueId, type App } from './helpers/site.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';
import { ko } from './helpers/i18n.js';

/** A made-up client address, so that each test has per-IP counters of its own (behind TRUST_PROXY). */
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

describe('login throttling', () => {
  let app: App;
  before(async () => ({ app } = await makeSite({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '5', LOGIN_FAILURE_WINDOW: '15m' })));

  const attempt = (id: string, password: string, ip: string) => postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id, password });

  it('after LOGIN_MAX_FAILURES failures for one id from one IP: 429 with Retry-After, even for the right password', async () => {
    const id = uniqueId();
    await register(app, { id });
    const ip = someIp();
    for (let i = 0; i < 5; i++) expect((await attempt(id, 'wrong password here', ip)).status).to.equal(401);
    const locked = await attempt(id, PASSWORD, ip);
    expect(locked.status).to.equal(429);
    expect(Number(locked.headers['retry-after'])).to.be.within(14 * 60, 15 * 60);
    expect(locked.text).to.include(ko('throttle.wait', { minutes: 15 }));
    expect(locked.headers['set-cookie'] ?? []).not.to.satisfy((cookies: string[]) => cookies.some((c) => c.startsWith('accessToken')));
    const json = await attempt(id, PASSWORD, ip).set('Accept', 'application/json');
    expect(json.status).to.equal(429);
    expect(json.body.success).to.equal(false);
    // The same id from another address, and another id from this address, are not locked.
    expect((await attempt(id, PASSWORD, someIp())).status).to.equal(303);
  });

  it('of 30 parallel wrong logins for one id at most LOGIN_MAX_FAILURES reach the password check; the right one after them gets 429', async () => {
    const id = uniqueId();
    await register(app, { id });
    const ip = someIp();
    const statuses = (await Promise.all(Array.from({ length: 30 }, () => attempt(id, 'wrong password here', ip)))).map((res) => res.status);
    expect(count(statuses, 401)).to.equal(5);
    expect(count(statuses, 429)).to.equal(25);
    expect((await attempt(id, PASSWORD, ip)).status).to.equal(429);
  });

  it("counts an IPv6 client's whole /64 as one client", async () => {
    const id = uniqueId();
    const net = `2001:db8:${randomInt(65536).toString(16)}:${randomInt(65536).toString(16)}`;
    const addresses = Array.from({ length: 6 }, (_, i) => `${net}:${i}:${randomInt(65536).toString(16)}::${i + 1}`);
    for (const ip of addresses.slice(0, 5)) expect((await attempt(id, 'wrong password here', ip)).status).to.equal(401);
    expect((await attempt(id, 'wrong password here', addresses[5])).status).to.equal(429);
    expect((await attempt(id, 'wrong password here', `2001:db8:ffff:${randomInt(65536).toString(16)}::1`)).status).to.equal(401);
  });

  it('the answer to the 4th failure says that one more locks the ID for the window, in the same words for an unknown id', async () => {
    const known = uniqueId();
    await register(app, { id: known });
    for (const id of [known, uniqueId()]) {
      const ip = someIp();
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await attempt(id, 'wrong password here', ip).set('Accept', 'application/json'));
      expect(answers.map((res) => [res.status, res.body.msg])).to.deep.equal([
        ...Array(3).fill([401, ko('login.failed')]),
        [401, ko('login.failedLastTry', { minutes: 15 })],
        [401, ko('login.failed')],
      ]);
      expect((await attempt(id, PASSWORD, ip)).status).to.equal(429);
    }
  });

  it('counts unknown ids exactly like known ones', async () => {
    const ip = someIp();
    const ghost = uniqueId();
    for (let i = 0; i < 5; i++) expect((await attempt(ghost, 'wrong password here', ip)).status).to.equal(401);
    expect((await attempt(ghost, 'wrong password here', ip)).status).to.equal(429);
  });

  it('matches the id without regard to case', async () => {
    const ip = someIp();
    const id = uniqueId();
    for (let i = 0; i < 5; i++) await attempt(i % 2 ? id.toUpperCase() : id, 'wrong password here', ip);
    expect((await attempt(id, 'wrong password here', ip)).status).to.equal(429);
  });

  it('a success resets the count for its id and IP', async () => {
    const id = uniqueId();
    await register(app, { id });
    const ip = someIp();
    for (let i = 0; i < 4; i++) await attempt(id, 'wrong password here', ip);
    expect((await attempt(id, PASSWORD, ip)).status).to.equal(303);
    for (let i = 0; i < 4; i++) expect((await attempt(id, 'wrong password here', ip)).status).to.equal(401);
  });

  it('without TRUST_PROXY a forged X-Forwarded-For does not escape the lock', async () => {
    const { app: direct } = await makeSite({ LOGIN_MAX_FAILURES: '2' });
    const id = uniqueId();
    const send = () => postTo(direct, '/user/login').set('X-Forwarded-For', someIp()).send({ id, password: 'wrong password here' });
    await send();
    await send();
    expect((await send()).status).to.equal(429);
  });

  it('LOGIN_IP_MAX_FAILURES holds against 30 parallel guesses at different ids', async () => {
    const { app: site } = await makeSite({ TRUST_PROXY: 'true', LOGIN_IP_MAX_FAILURES: '10' });
    const ip = someIp();
    const send = () => postTo(site, '/user/login').set('X-Forwarded-For', ip).send({ id: uniqueId(), password: 'wrong password here' });
    const statuses = (await Promise.all(Array.from({ length: 30 }, send))).map((res) => res.status);
    expect(count(statuses, 401)).to.equal(10);
    expect(count(statuses, 429)).to.equal(20);
  });

  it('LOGIN_IP_MAX_FAILURES failures from one IP across ids lock that IP (credential stuffing)', async () => {
    const { app: site } = await makeSite({ TRUST_PROXY: 'true', LOGIN_IP_MAX_FAILURES: '3' });
    const ip = someIp();
    const send = (id: string) => postTo(site, '/user/login').set('X-Forwarded-For', ip).send({ id, password: 'wrong password here' });
    for (let i = 0; i < 3; i++) expect((await send(uniqueId())).status).to.equal(401);
    const res = await send(uniqueId());
    expect(res.status).to.equal(429);
    expect(Number(res.headers['retry-after'])).to.be.greaterThan(3600);
  });
});

describe('login reservations (the model)', () => {
  it('a point given back goes only into the window it was taken from (a window that restarted meanwhile keeps its count)', async () => {
    const { redis } = await testStores();
    const limits = createRateLimits(redis, {
      keyPrefix: redisKeyPrefix,
      loginMaxFailures: 5,
      loginFailureWindowMs: 900_000,
      loginIpMaxFailures: 3,
      registerMaxPerIp: 10,
      resetMaxPerIp: 10,
    });
    const network = someIp();
    const own = await limits.reserveLogin('own_account', network);
    expect(own.waitMs).to.equal(0);
    // The day's window ends while the attempt on the attacker's own account is still being checked.
    await redis.del(`${redisKeyPrefix}rl:login:{${network}}:ip`);
    await sleep(2);
    for (let i = 0; i < 3; i++) expect((await limits.reserveLogin(`victim_${i}`, network)).waitMs).to.equal(0);
    await limits.releaseLogin('own_account', network, own.window!, 'succeeded');
    expect((await limits.reserveLogin('victim_9', network)).waitMs).to.be.greaterThan(0);
  });
});

describe('registration throttling', () => {
  it('REGISTER_MAX_PER_IP holds against 30 parallel registrations', async () => {
    const { app } = await makeSite({ TRUST_PROXY: 'true', REGISTER_MAX_PER_IP: '5' });
    const ip = someIp();
    const send = () =>
      postTo(app, '/user/register').set('X-Forwarded-For', ip).send({ id: uniqueId(), name: 'Kim', password: PASSWORD, confirmPassword: PASSWORD });
    const statuses = (await Promise.all(Array.from({ length: 30 }, send))).map((res) => res.status);
    expect(count(statuses, 303)).to.equal(5);
    expect(count(statuses, 429)).to.equal(25);
  });

  it('REGISTER_MAX_PER_IP registrations from one IP per hour, then 429 (taken ids count too)', async () => {
    const { app } = await makeSite({ TRUST_PROXY: 'true', REGISTER_MAX_PER_IP: '2' });
    const ip = someIp();
    const send = (id: string) =>
      postTo(app, '/user/register').set('X-Forwarded-For', ip).send({ id, name: 'Kim', password: PASSWORD, confirmPassword: PASSWORD });
    const id = uniqueId();
    expect((await send(id)).status).to.equal(303);
    expect((await send(id)).status).to.equal(409);
    const res = await send(uniqueId());
    expect(res.status).to.equal(429);
    expect(res.headers['retry-after']).to.match(/^\d+$/);
    expect(res.text).to.include('value="Kim"');
    // Invalid input costs nothing.
    const invalid = await postTo(app, '/user/register').set('X-Forwarded-For', someIp()).send({ id: 'x' });
    expect(invalid.status).to.equal(400);
  });
});
