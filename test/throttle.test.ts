import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { makeSite, PASSWORD, postTo, register, uniqueId, type App } from './helpers/site.js';
import { ko } from './helpers/i18n.js';

/** A made-up client address, so that each test has per-IP counters of its own (behind TRUST_PROXY). */
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

describe('registration throttling', () => {
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
