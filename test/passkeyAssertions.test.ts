import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import type { RowDataPacket } from 'mysql2/promise';
import request from 'supertest';
import type { Db, Subscriber } from '../src/config/clients.js';
import { PASSKEY_OPTIONS_PER_MINUTE } from '../src/models/rateLimits.js';
import { en } from './helpers/i18n.js';
import { startPrivateRedis } from './helpers/privateRedis.js';
import { cookieHeader, getInfo, isLoggedIn, loggedInUser, login, makeSite, postTo, setCookies, type App, type Tokens } from './helpers/site.js';
import { SoftAuthenticator } from './helpers/softAuthenticator.js';
import { testSubscriber } from './helpers/stores.js';

const HOST = 'login.example.com';
const ORIGIN = `http://${HOST}`;
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

describe('passkey assertions with a software authenticator: single use, counters, confirming a session', function () {
  this.timeout(60_000);
  let app: App;
  let db: Db;
  before(async () => ({ app, db } = await makeSite({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '1000' })));

  /** A JSON call as the site's own script makes it, to this host. */
  const json = (path: string, tokens: Partial<Tokens> = {}, ip = someIp()) =>
    postTo(app, path, cookieHeader(tokens))
      .set('Host', HOST)
      .set('X-Forwarded-For', ip)
      .set('Accept', 'application/json')
      .set('Accept-Language', 'en')
      .type('json');

  /** A logged-in person who added a passkey held by `authenticator`, through the site's own two calls. */
  async function withPasskey(authenticator = new SoftAuthenticator()) {
    const user = await loggedInUser(app);
    const options = await json('/user/passkeys/options', user).send({});
    expect(options.status, options.text).to.equal(200);
    const added = await json('/user/passkeys', user).send({ name: 'Soft key', response: authenticator.create(options.body, ORIGIN) });
    expect(added.status, added.text).to.equal(200);
    return { ...user, authenticator };
  }
  const loginOptions = async () => (await json('/user/login/passkey/options').send({})).body as { challenge: string; rpId: string };
  const loginWith = (response: unknown) => json('/user/login/passkey').send({ response });
  const counterOf = async (credentialId: string) =>
    Number((await db.query<RowDataPacket[]>('SELECT counter FROM passkeys WHERE credential_id = ?', [credentialId]))[0][0].counter);

  it('logs in with the passkey (no id typed); the same assertion sent again is refused', async () => {
    const { authenticator, name } = await withPasskey();
    const assertion = authenticator.get(await loginOptions(), ORIGIN);
    const first = await loginWith(assertion);
    expect([first.status, first.body]).to.deep.equal([200, { success: true }]);
    expect(isLoggedIn(await getInfo(app, { accessToken: setCookies(first).accessToken.value }), name)).to.equal(true);
    const again = await loginWith(assertion);
    expect([again.status, again.body.msg]).to.deep.equal([401, en('passkeys.loginFailed')]);
  });

  it('two authenticators holding one credential at the same counter (a clone), both logins at once: exactly one logs in', async () => {
    const { authenticator } = await withPasskey();
    const clone = authenticator.clone();
    const [a, b] = [authenticator.get(await loginOptions(), ORIGIN), clone.get(await loginOptions(), ORIGIN)];
    const statuses = (await Promise.all([loginWith(a), loginWith(b)])).map((res) => res.status);
    expect(statuses.sort()).to.deep.equal([200, 401]);
    expect(await counterOf(authenticator.id)).to.equal(1);
  });

  it('a counterless authenticator (always 0): one assertion posted 20 times at once logs in exactly once (the challenge is spent once)', async () => {
    const authenticator = new SoftAuthenticator();
    authenticator.counterless = true;
    await withPasskey(authenticator);
    const assertion = authenticator.get(await loginOptions(), ORIGIN);
    const answers = await Promise.all(Array.from({ length: 20 }, () => loginWith(assertion)));
    const statuses = answers.map((res) => res.status);
    expect([count(statuses, 200), count(statuses, 401)]).to.deep.equal([1, 19]);
    expect(answers.filter((res) => setCookies(res).accessToken)).to.have.length(1);
    // A fresh challenge still works: counter 0 stays usable.
    expect((await loginWith(authenticator.get(await loginOptions(), ORIGIN))).status).to.equal(200);
  });

  it('an assertion without user verification (presence only) does not log in', async () => {
    const { authenticator } = await withPasskey();
    const res = await loginWith(authenticator.get(await loginOptions(), ORIGIN, { uv: false }));
    expect(res.status).to.equal(401);
  });

  describe('confirming a session with a passkey', () => {
    const confirmOptions = async (tokens: Tokens) => {
      const res = await json('/user/confirm/passkey/options', tokens).send({});
      expect(res.status, res.text).to.equal(200);
      return res.body as { challenge: string; rpId: string; userVerification: string; allowCredentials: { id: string }[] };
    };
    const confirmWith = (tokens: Tokens, response: unknown) => json('/user/confirm/passkey', tokens).send({ response });

    it('options name only this account’s passkeys and require user verification; the right assertion confirms this session (and is refused again)', async () => {
      const user = await withPasskey();
      const options = await confirmOptions(user);
      expect(options.userVerification).to.equal('required');
      expect(options.allowCredentials.map((c) => c.id)).to.deep.equal([user.authenticator.id]);
      const assertion = user.authenticator.get(options, ORIGIN);
      const confirmed = await confirmWith(user, assertion);
      expect([confirmed.status, confirmed.body]).to.deep.equal([200, { success: true }]);
      const again = await confirmWith(user, assertion);
      expect([again.status, again.body.msg]).to.deep.equal([400, en('confirm.passkeyFailed')]);
    });

    it('refused (400): another account’s passkey, a challenge of another session, a login challenge, no user verification', async () => {
      const user = await withPasskey();
      const stranger = await withPasskey();
      const otherSession = await login(app, user.id);
      const answers = await Promise.all([
        confirmWith(user, stranger.authenticator.get(await confirmOptions(user), ORIGIN)),
        confirmWith(user, user.authenticator.get(await confirmOptions(otherSession), ORIGIN)),
        confirmWith(user, user.authenticator.get(await loginOptions(), ORIGIN)),
        confirmWith(user, user.authenticator.get(await confirmOptions(user), ORIGIN, { uv: false })),
      ]);
      expect(answers.map((res) => [res.status, res.body.msg])).to.deep.equal(Array(4).fill([400, en('confirm.passkeyFailed')]));
    });

    it('logged out: 401', async () => {
      const res = await postTo(app, '/user/confirm/passkey/options').set('Accept', 'application/json').send({});
      expect(res.status).to.equal(401);
    });
  });
});

describe('anonymous work is bounded: passkey login options from one network (private redis-server)', function () {
  this.timeout(120_000);
  let app: App;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let subscriber: Subscriber;
  before(async () => {
    redis = await startPrivateRedis();
    subscriber = testSubscriber(`redis://127.0.0.1:${redis.port}`);
    ({ app } = await makeSite({ TRUST_PROXY: 'true' }, { redis: redis.client, subscriber }));
  });
  after(async () => {
    await subscriber.close();
    await redis.stop();
  });

  const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await redis.client.info('memory'))![1]);

  it(`3,000 requests from one IP, 20 at a time: ${PASSKEY_OPTIONS_PER_MINUTE} get options, the rest 429 with Retry-After; Redis grows by less than 100 kB`, async () => {
    const ip = '203.0.113.99';
    const other = '203.0.113.100';
    // One form token (cookie and field), reused as a script would.
    const page = await request(app).get('/user/login');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    const csrfCookie = (page.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('csrf='))!.split(';')[0];
    const ask = (from: string) =>
      request(app)
        .post('/user/login/passkey/options')
        .set('Cookie', csrfCookie)
        .set('x-csrf-token', token)
        .set('X-Forwarded-For', from)
        .set('Accept', 'application/json')
        .type('json')
        .send({});
    /** `count` requests from `from`, 20 at a time: their statuses, and the last Retry-After. */
    async function flood(from: string, count: number) {
      const statuses: number[] = [];
      let retryAfter = '';
      let sent = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (sent < count) {
            sent++;
            const res = await ask(from);
            statuses.push(res.status);
            if (res.status === 429) retryAfter = res.headers['retry-after'];
          }
        }),
      );
      return { statuses, retryAfter };
    }
    await flood(other, 300); // the rate limiter's script is loaded, and the server's buffers grown, before the baseline
    const [memoryBefore, keysBefore] = [await usedMemory(), await redis.client.dbSize()];
    const { statuses, retryAfter } = await flood(ip, 3000);
    const [memoryAfter, keysAfter] = [await usedMemory(), await redis.client.dbSize()];
    console.log(
      `      (${count(statuses, 200)} × 200, ${count(statuses, 429)} × 429; Redis +${keysAfter - keysBefore} keys, +${memoryAfter - memoryBefore} bytes)`,
    );
    expect([count(statuses, 200), count(statuses, 429), statuses.length]).to.deep.equal([PASSKEY_OPTIONS_PER_MINUTE, 3000 - PASSKEY_OPTIONS_PER_MINUTE, 3000]);
    expect(Number(retryAfter)).to.be.within(1, 60);
    expect(keysAfter - keysBefore, 'one counter for the network').to.be.at.most(1);
    expect(memoryAfter - memoryBefore).to.be.below(100 * 1024);
    // Nothing grows with the number of calls: 3,000 more add (next to) nothing.
    await flood(ip, 3000);
    expect((await usedMemory()) - memoryAfter, 'the next 3,000').to.be.below(4 * 1024);
    // Another network is not affected.
    expect((await ask('203.0.113.101')).status).to.equal(200);
  });
});
