import { expect } from 'chai';
import { createUserModel } from '../src/models/user.js';
import { createPasswords, DUMMY_HASH, HASH_WAIT_MS, hashStats, needsRehash } from '../src/utils/password.js';
import { makeSite, PASSWORD, postTo, uniqueId, type App } from './helpers/site.js';

describe('HASH_CONCURRENCY: a queue in front of argon2', function () {
  this.timeout(60_000);
  let app: App;
  let ids: string[];
  let verifyMs: number;

  before(async () => {
    // One failure locks an (id, IP) pair: a 503 that counted as a failed login would show as a 429 afterwards.
    const site = await makeSite({ HASH_CONCURRENCY: '1', LOGIN_MAX_FAILURES: '1' });
    app = site.app;
    const passwords = createPasswords(1);
    const passwordHash = await passwords.hash(PASSWORD);
    // The fastest of a few warm checks: a cold first hash is slower, and too few logins would all fit in the wait.
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      await passwords.verify(passwordHash, PASSWORD);
      times.push(performance.now() - started);
    }
    verifyMs = Math.min(...times);
    // Enough logins that, one at a time, they need at least twice the queue's wait (30 at the least).
    const count = Math.max(30, Math.ceil((2 * HASH_WAIT_MS) / verifyMs));
    ids = Array.from({ length: count }, uniqueId);
    const users = createUserModel(site.db);
    for (const id of ids) await users.create({ id, name: 'Tester', passwordHash });
  });

  const loginAs = (id: string) => postTo(app, '/user/login').send({ id, password: PASSWORD });

  it('parallel logins: never more than one hash at once, the overflow gets 503 with Retry-After (not hashed, not counted), none 500', async () => {
    hashStats.peak = 0;
    const startedBefore = hashStats.started;
    const sent = performance.now();
    const results = await Promise.all(ids.map(async (id) => ({ id, res: await loginAs(id), ms: performance.now() - sent })));
    const count = (status: number) => results.filter(({ res }) => res.status === status).length;
    const outcomes = { 303: count(303), 503: count(503) };
    console.log(`      ${ids.length} logins (${verifyMs.toFixed(0)} ms a hash): ${JSON.stringify(outcomes)}`);
    expect(outcomes[303] + outcomes[503], 'only successes and 503s').to.equal(ids.length);
    expect(outcomes[503]).to.be.greaterThan(0);
    expect(outcomes[303]).to.be.greaterThan(0);
    expect(hashStats.peak, 'argon2 operations at once').to.equal(1);
    expect(hashStats.started - startedBefore, 'a request that got 503 was never hashed').to.equal(outcomes[303]);
    const busy = results.filter(({ res }) => res.status === 503);
    for (const { res, ms } of busy) {
      expect(res.headers['retry-after']).to.equal('2');
      expect(ms, 'a 503 comes only after the wait').to.be.at.least(HASH_WAIT_MS - 50);
    }
    // The refused ones were not counted as failed logins: each logs in now (LOGIN_MAX_FAILURES is 1).
    for (const { id } of busy) expect((await loginAs(id)).status).to.equal(303);
  });

  it('a 503 is a page in the person’s language (and JSON for JSON clients)', async () => {
    const results = await Promise.all(ids.map((id) => loginAs(id).set('Accept', 'application/json').set('Accept-Language', 'en')));
    const busy = results.find((res) => res.status === 503);
    expect(busy, 'one login got 503').to.not.equal(undefined);
    expect(busy!.body).to.include({ success: false, msg: 'The site is busy right now. Please try again in a few seconds.' });
  });

  it('a queued login whose client hung up is not hashed', async () => {
    const startedBefore = hashStats.started;
    const waiting = ids.slice(0, 12).map((id) => loginAs(id).then((res) => res.status));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // These queue behind the others and hang up before their turn.
    const hungUp = ids.slice(12, 17).map((id) =>
      loginAs(id)
        .timeout(Math.min(HASH_WAIT_MS / 2, verifyMs * 3))
        .then(
          () => 'answered',
          () => 'hung up',
        ),
    );
    const statuses = await Promise.all(waiting);
    expect(await Promise.all(hungUp)).to.deep.equal(Array(5).fill('hung up'));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the server notices the closed sockets
    expect(hashStats.started - startedBefore).to.equal(statuses.filter((status) => status === 303).length);
  });

  it('the unknown-id hash costs a real check: same parameters as new hashes', () => {
    expect(needsRehash(DUMMY_HASH)).to.equal(false);
  });
});
