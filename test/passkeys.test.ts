import { randomBytes, randomInt } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import type { RowDataPacket } from 'mysql2/promise';
import { createRedis, type Db, type RedisClient } from '../src/config/clients.js';
import { createLogger } from '../src/config/logger.js';
import { createPasskeyModel, type PasskeyModel } from '../src/models/passkeys.js';
import { en, ko } from './helpers/i18n.js';
import { expectUnavailable } from './helpers/outage.js';
import { cookieHeader, loggedInUser, makeSite, PASSWORD, postTo, setCookies, type App, type Tokens } from './helpers/site.js';
import { REDIS_URL, redisKeyPrefix, testStores } from './helpers/stores.js';
import { startTcpProxy } from './helpers/tcpProxy.js';

const HOST = 'login.example.com';
const FIVE_MINUTES_MS = 300_000;

const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
/** A browser's assertion in shape, for `challenge`, from a credential the site may or may not know. */
const assertionFor = (challenge: string, credentialId = b64url(randomBytes(16))) => ({
  id: credentialId,
  rawId: credentialId,
  type: 'public-key',
  clientExtensionResults: {},
  response: {
    clientDataJSON: b64url(JSON.stringify({ type: 'webauthn.get', challenge, origin: `http://${HOST}` })),
    authenticatorData: b64url(randomBytes(37)),
    signature: b64url(randomBytes(64)),
  },
});
const authCookies = (res: request.Response) => Object.keys(setCookies(res)).filter((name) => name.endsWith('Token'));

describe('passkeys: options and refusals (no browser)', function () {
  this.timeout(30_000);
  let app: App;
  let db: Db;
  let redis: RedisClient;
  let passkeys: PasskeyModel;

  before(async () => {
    ({ app, db, redis } = await makeSite({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '3' }));
    passkeys = createPasskeyModel(db, redis, redisKeyPrefix);
  });

  /** A JSON call as the site's own script makes it, to this host. */
  const json = (path: string, tokens: Partial<Tokens> = {}, ip = someIp()) =>
    postTo(app, path, cookieHeader(tokens))
      .set('Host', HOST)
      .set('X-Forwarded-For', ip)
      .set('Accept', 'application/json')
      .set('Accept-Language', 'en')
      .type('json');
  const storePasskey = (userId: string, userHandle = b64url(randomBytes(32))) => {
    const credentialId = b64url(randomBytes(16));
    return passkeys
      .add(userId, { credentialId, userHandle, publicKey: randomBytes(77), counter: 0, transports: ['internal'], name: 'Key' })
      .then((added) => (expect(added).to.equal(true), { credentialId, userHandle }));
  };
  const rowsOf = async (credentialId: string) => (await db.query<RowDataPacket[]>('SELECT 1 FROM passkeys WHERE credential_id = ?', [credentialId]))[0].length;
  const passkeyKeys = async () => (await redis.keys(`${redisKeyPrefix}passkey:*`)).sort();

  it('logged out: the page and the posts send the visitor to log in (303), JSON gets 401; every answer is no-store', async () => {
    const page = await request(app).get('/user/passkeys');
    expect([page.status, page.headers.location, page.headers['cache-control']]).to.deep.equal([303, '/user/login?next=/user/passkeys', 'no-store']);
    for (const path of ['/user/passkeys/options', '/user/passkeys', '/user/passkeys/remove']) {
      const form = await postTo(app, path).send({ credentialId: 'x' });
      expect([form.status, form.headers.location], path).to.deep.equal([303, '/user/login']);
      const answer = await json(path).send({});
      expect([answer.status, answer.body.success, answer.headers['cache-control']], path).to.deep.equal([401, false, 'no-store']);
    }
  });

  it('registration options: this host as RP ID, resident key required, user verification preferred, an opaque user handle, the account’s passkeys excluded; the challenge lives 5 minutes', async () => {
    const user = await loggedInUser(app, 'Kim');
    const first = await json('/user/passkeys/options', user).send({});
    expect(first.status, first.text).to.equal(200);
    expect(first.headers['cache-control']).to.equal('no-store');
    expect(first.body.rp.id).to.equal(HOST);
    expect(first.body.authenticatorSelection).to.include({ residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' });
    expect([first.body.user.name, first.body.user.displayName]).to.deep.equal([user.id, 'Kim']);
    expect(Buffer.from(first.body.user.id, 'base64url')).to.have.length(32);
    expect(Buffer.from(first.body.user.id, 'base64url').toString()).not.to.include(user.id);
    expect(first.body.excludeCredentials).to.deep.equal([]);
    const ttl = await redis.pTTL(`${redisKeyPrefix}passkey:register:{${user.id}}`);
    expect(ttl).to.be.within(FIVE_MINUTES_MS - 10_000, FIVE_MINUTES_MS);

    const stored = await storePasskey(user.id);
    const second = await json('/user/passkeys/options', user).send({});
    expect(second.body.excludeCredentials.map((c: { id: string }) => c.id)).to.deep.equal([stored.credentialId]);
    expect(second.body.user.id).to.equal(stored.userHandle); // one handle for all of the account's passkeys
    expect(second.body.challenge).not.to.equal(first.body.challenge);
  });

  it('an attestation without a pending challenge, or a malformed one, is refused (400) and the pending challenge is used up', async () => {
    const user = await loggedInUser(app);
    const none = await json('/user/passkeys', user).send({ response: { id: 'x', response: {} } });
    expect([none.status, none.body.msg]).to.deep.equal([400, en('passkeys.addFailed')]);
    await json('/user/passkeys/options', user).send({});
    const malformed = await json('/user/passkeys', user).send({ response: { id: 'x', response: { clientDataJSON: 'e30', attestationObject: 'AA' } } });
    expect(malformed.status).to.equal(400);
    expect(await redis.exists(`${redisKeyPrefix}passkey:register:{${user.id}}`)).to.equal(0);
    expect((await db.query<RowDataPacket[]>('SELECT 1 FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ?', [user.id]))[0]).to.have.length(0);
  });

  it('login options: discoverable credentials (no allowCredentials), user verification required, a fresh challenge good for 5 minutes that nothing stores', async () => {
    const storedBefore = await passkeyKeys();
    const [a, b] = await Promise.all([json('/user/login/passkey/options').send({}), json('/user/login/passkey/options').send({})]);
    expect(a.status, a.text).to.equal(200);
    expect(a.body).to.include({ rpId: HOST, userVerification: 'required' });
    expect(a.body.allowCredentials ?? []).to.deep.equal([]);
    expect(a.body.challenge).not.to.equal(b.body.challenge);
    // 16 random bytes, the deadline (ms, 6 bytes), a MAC: the site keeps nothing of it (utils/challenges.ts).
    const deadline = Buffer.from(a.body.challenge as string, 'base64url').readUIntBE(16, 6);
    expect(deadline - Date.now()).to.be.within(FIVE_MINUTES_MS - 10_000, FIVE_MINUTES_MS);
    expect(await passkeyKeys()).to.deep.equal(storedBefore);
    expect(authCookies(a)).to.deep.equal([]);
  });

  it('a failed passkey login is 401 with no cookie: garbage, a challenge never issued, a forged or altered one, an unknown credential', async () => {
    const garbage = await json('/user/login/passkey').send({ response: 'nonsense' });
    const unissued = await json('/user/login/passkey').send({ response: assertionFor(b64url(randomBytes(38))) });
    const { challenge } = (await json('/user/login/passkey/options').send({})).body as { challenge: string };
    const altered = Buffer.from(challenge, 'base64url');
    altered[20] ^= 1; // a later deadline, the MAC unchanged
    const forged = await json('/user/login/passkey').send({ response: assertionFor(b64url(altered)) });
    const unknown = await json('/user/login/passkey').send({ response: assertionFor(challenge) });
    for (const res of [garbage, unissued, forged, unknown]) {
      expect([res.status, res.body.success, res.body.msg], res.text).to.deep.equal([401, false, en('passkeys.loginFailed')]);
      expect(res.headers['set-cookie'] ?? []).to.deep.equal([]);
    }
  });

  it('a known credential with a signature that does not check out is 401, and its counter and last use stay as they were', async () => {
    const user = await loggedInUser(app);
    const { credentialId } = await storePasskey(user.id);
    const { challenge } = (await json('/user/login/passkey/options').send({})).body as { challenge: string };
    const res = await json('/user/login/passkey').send({ response: assertionFor(challenge, credentialId) });
    expect([res.status, authCookies(res)]).to.deep.equal([401, []]);
    const [rows] = await db.query<RowDataPacket[]>('SELECT counter, last_used_at FROM passkeys WHERE credential_id = ?', [credentialId]);
    expect(rows[0]).to.deep.include({ counter: 0, last_used_at: null });
  });

  it('failed passkey logins count against the network’s login limit: of 20 parallel ones with a limit of 3, 3 are checked and 17 get 429', async () => {
    const ip = someIp();
    const answers = await Promise.all(Array.from({ length: 20 }, () => json('/user/login/passkey', {}, ip).send({ response: assertionFor('x'.repeat(43)) })));
    const statuses = answers.map((res) => res.status);
    expect([statuses.filter((s) => s === 401).length, statuses.filter((s) => s === 429).length]).to.deep.equal([3, 17]);
    expect(answers.find((res) => res.status === 429)!.headers['retry-after']).to.match(/^\d+$/);
    // Password logins of ids from that network keep their own counters.
    const user = await loggedInUser(app);
    const password = await postTo(app, '/user/login').set('X-Forwarded-For', ip).send({ id: user.id, password: PASSWORD });
    expect(password.status).to.equal(303);
  });

  it('the counter only moves up: of 20 parallel uses with one counter value exactly one is recorded; an equal or lower value is refused; zero stays usable', async () => {
    const user = await loggedInUser(app);
    const { credentialId } = await storePasskey(user.id);
    expect(await passkeys.recordUse(credentialId, 0)).to.equal(true); // an authenticator without a counter
    expect(await passkeys.recordUse(credentialId, 0)).to.equal(true);
    const results = await Promise.all(Array.from({ length: 20 }, () => passkeys.recordUse(credentialId, 7)));
    expect(results.filter(Boolean)).to.have.length(1);
    expect(await passkeys.recordUse(credentialId, 7)).to.equal(false);
    expect(await passkeys.recordUse(credentialId, 3)).to.equal(false);
    expect(await passkeys.recordUse(credentialId, 0)).to.equal(false);
    expect(await passkeys.recordUse(credentialId, 8)).to.equal(true);
  });

  it('removing: another account’s credential id is 404 and it stays; one’s own goes (303 to /user/passkeys with a notice)', async () => {
    const [owner, other] = await Promise.all([loggedInUser(app), loggedInUser(app)]);
    const { credentialId } = await storePasskey(owner.id);
    const foreign = await postTo(app, '/user/passkeys/remove', cookieHeader(other)).send({ credentialId });
    expect(foreign.status).to.equal(404);
    expect(await rowsOf(credentialId)).to.equal(1);
    const own = await postTo(app, '/user/passkeys/remove', cookieHeader(owner)).send({ credentialId });
    expect([own.status, own.headers.location]).to.deep.equal([303, '/user/passkeys']);
    expect(await rowsOf(credentialId)).to.equal(0);
    const page = await request(app)
      .get('/user/passkeys?lang=en')
      .set('Cookie', `${cookieHeader(owner)}; notice=${encodeURIComponent(setCookies(own).notice.value)}`);
    expect(page.text).to.include(en('passkeys.notice.removed'));
    expect(page.text).to.include(en('passkeys.none'));
  });

  it('a credential id that no passkey can have (non-ASCII, too long) is refused before any query: remove 404, login 401 with no cookie', async () => {
    const user = await loggedInUser(app);
    for (const credentialId of ['é', 'a'.repeat(1401), 'ab/c']) {
      const removed = await postTo(app, '/user/passkeys/remove', cookieHeader(user)).send({ credentialId });
      expect(removed.status, removed.text).to.equal(404);
      expect(removed.text).to.include(ko('passkeys.notFound'));
      const { challenge } = (await json('/user/login/passkey/options').send({})).body as { challenge: string };
      const login = await json('/user/login/passkey').send({ response: assertionFor(challenge, credentialId) });
      expect([login.status, login.body.msg], login.text).to.deep.equal([401, en('passkeys.loginFailed')]);
      expect(authCookies(login)).to.deep.equal([]);
    }
  });

  it('the page lists the account’s passkeys (escaped names) with a form to remove each, and loads its scripts from /static only', async () => {
    const user = await loggedInUser(app);
    await passkeys.add(user.id, {
      credentialId: b64url(randomBytes(16)),
      userHandle: 'h',
      publicKey: randomBytes(8),
      counter: 0,
      transports: [],
      name: '<b>Phone</b>',
    });
    const page = await request(app).get('/user/passkeys?lang=en').set('Cookie', cookieHeader(user));
    expect(page.status).to.equal(200);
    expect(page.text).to.include('&lt;b&gt;Phone&lt;/b&gt;');
    expect(page.text).to.match(/<form method="post" action="\/user\/passkeys\/remove">\s*<input type="hidden" name="_csrf"/);
    expect(page.text).to.include('<meta name="csrf-token"');
    expect([...page.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1])).to.deep.equal([
      '/static/site.js',
      '/static/webauthn/index.umd.min.js',
      '/static/passkeys.js',
    ]);
    for (const script of ['/static/site.js', '/static/webauthn/index.umd.min.js', '/static/passkeys.js']) {
      const res = await request(app).get(script);
      expect(res.status, script).to.equal(200);
      expect(res.headers['content-type'], script).to.match(/^(text|application)\/javascript/);
    }
    const info = await request(app).get('/user/info').set('Cookie', cookieHeader(user));
    expect(info.text).to.include('href="/user/passkeys"');
  });

  it('deleting the account deletes its passkeys', async () => {
    const user = await loggedInUser(app);
    const { credentialId } = await storePasskey(user.id);
    const res = await postTo(app, '/user/delete', cookieHeader(user)).set('X-Forwarded-For', someIp()).send({ password: PASSWORD });
    expect(res.status).to.equal(303);
    expect(await rowsOf(credentialId)).to.equal(0);
  });

  it('a Host header that names no host is a bad request (400), not an error', async () => {
    const res = await json('/user/login/passkey/options').set('Host', 'no such host').send({});
    expect([res.status, res.body.msg]).to.deep.equal([400, en('error.badRequest')]);
  });

  it('a cross-site post or one without the CSRF token is refused (403)', async () => {
    const crossSite = await json('/user/login/passkey/options').set('Origin', 'https://evil.example').send({});
    const noToken = await request(app).post('/user/login/passkey/options').set('Accept', 'application/json').send({});
    expect([crossSite.status, noToken.status]).to.deep.equal([403, 403]);
  });
});

describe('passkeys while Redis is down (through a proxy the test cuts)', function () {
  this.timeout(30_000);

  it('options and login answer 503 with no cookie; the challenge store works again when Redis returns', async () => {
    const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    const redis = createRedis(`redis://127.0.0.1:${proxy.port}`, createLogger('silent'));
    try {
      await redis.connect();
      const { app } = await makeSite({}, { db: (await testStores()).db, redis });
      const user = await loggedInUser(app);
      proxy.cut();
      await expectUnavailable(postTo(app, '/user/login/passkey/options').send({}));
      await expectUnavailable(
        postTo(app, '/user/login/passkey')
          .type('json')
          .send({ response: assertionFor('y'.repeat(43)) }),
      );
      await expectUnavailable(postTo(app, '/user/passkeys/options', cookieHeader(user)).send({}));
      proxy.restore();
      for (let i = 0; i < 50 && !redis.isReady; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await postTo(app, '/user/login/passkey/options').set('Accept', 'application/json').send({})).status).to.equal(200);
    } finally {
      await redis.close();
      await proxy.close();
    }
  });
});
