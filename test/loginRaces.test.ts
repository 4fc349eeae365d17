import { setTimeout as sleep } from 'node:timers/promises';
import { randomInt } from 'node:crypto';
import argon2 from 'argon2';
import { expect } from 'chai';
import request from 'supertest';
import type { Db } from '../src/config/clients.js';
import { createResetLinks } from '../src/models/resetLinks.js';
import { createUserModel } from '../src/models/user.js';
import { newToken, tokenHash } from '../src/utils/tokens.js';
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
  setCookies,
  type App,
  type Tokens,
} from './helpers/site.js';
import { hookedPool, type Around } from './helpers/hookedPool.js';
import { testStores } from './helpers/stores.js';

const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

/**
 * Logins that are still checking the password (one hash at a time: HASH_CONCURRENCY=1) when an account's sessions
 * end must not come out with a working session: each of them is asked about after the event has returned.
 */
describe('logins under way while a deletion, a password change or a lock ends the sessions', function () {
  this.timeout(60_000);
  let app: App;
  let users: ReturnType<typeof createUserModel>;
  before(async () => {
    const site = await makeSite({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '1000', HASH_CONCURRENCY: '1' });
    app = site.app;
    users = createUserModel(site.db);
  });

  /** Starts `event`, and 10 logins with `password` 0–90 ms after it; resolves with the tokens of those that got in. */
  async function loginsDuring(id: string, password: string, event: () => PromiseLike<request.Response>): Promise<Tokens[]> {
    const done = Promise.resolve(event()); // supertest sends on `then`: now, before the logins

    const logins = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        await sleep(i * 10);
        const res = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id, password });
        const cookies = setCookies(res);
        return res.status === 303 ? [{ accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value }] : [];
      }),
    );
    const ended = await done;
    expect(ended.status).to.equal(303);
    expect(ended.headers.location).to.not.match(/^\/user\/login\?next=/); // the event happened, not a redirect to log in
    return logins.flat();
  }

  /** Neither token of any of these sessions works any more (the access token within 1 s). */
  async function allEnded(sessions: Tokens[]) {
    for (const tokens of sessions) {
      expect(isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }))).to.equal(false);
      await refusedWithin(app, tokens, 1000);
    }
  }

  it('deleting the account: no login that was checking the password keeps a session, and the id registered again is not theirs', async () => {
    const user = await loggedInUser(app);
    const sessions = await loginsDuring(user.id, PASSWORD, () => postTo(app, '/user/delete', cookieHeader(user)).send({ password: PASSWORD }));
    await allEnded(sessions);
    const stranger = 'stranger pass 123';
    await postTo(app, '/user/register').send({ id: user.id, name: 'Stranger', password: stranger, confirmPassword: stranger });
    for (const tokens of sessions)
      expect(isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }), 'Stranger')).to.equal(false);
  });

  it('changing the password: no login with the old password that was under way keeps a session', async () => {
    const user = await loggedInUser(app);
    const newPassword = 'a brand new passphrase';
    const change = () =>
      postTo(app, '/user/password', cookieHeader(user)).send({ currentPassword: PASSWORD, password: newPassword, confirmPassword: newPassword });
    await allEnded(await loginsDuring(user.id, PASSWORD, change));
  });

  it('changing the password while logins with the old one rehash its outdated hash: the new password stays, the old one stays refused', async () => {
    const user = await loggedInUser(app);
    // Stored with a cost below the configured one: each login with the right password hashes it again.
    await users.changePassword(user.id, await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1 }));
    const newPassword = 'a brand new passphrase';
    const change = () =>
      postTo(app, '/user/password', cookieHeader(user)).send({ currentPassword: PASSWORD, password: newPassword, confirmPassword: newPassword });
    await allEnded(await loginsDuring(user.id, PASSWORD, change));
    const login = (password: string) => postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password });
    expect((await login(newPassword)).status, 'the new password').to.equal(303);
    expect((await login(PASSWORD)).status, 'the old password').to.equal(401);
  });

  it('in parallel: 10 logins with the right password while its outdated hash is rehashed all get in, and the hash is rehashed once', async () => {
    const user = await loggedInUser(app);
    const outdated = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1 });
    await users.changePassword(user.id, outdated);
    const statuses = await Promise.all(
      Array.from(
        { length: 10 },
        async () => (await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD })).status,
      ),
    );
    expect(statuses).to.deep.equal(Array(10).fill(303));
    const stored = (await users.findById(user.id))!.passwordHash;
    expect(stored).to.not.equal(outdated);
    expect(await argon2.verify(stored, PASSWORD)).to.equal(true);
  });

  it("an administrator's lock: no login that was under way keeps a session", async () => {
    const admin = await loggedInUser(app);
    await users.setAdmin(admin.id, true);
    const adminTokens = await loggedInUserAgain(admin.id);
    const user = await loggedInUser(app);
    await allEnded(await loginsDuring(user.id, PASSWORD, () => postTo(app, `/admin/users/${user.id}/lock`, cookieHeader(adminTokens)).send({})));
  });

  async function loggedInUserAgain(id: string): Promise<Tokens> {
    const res = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id, password: PASSWORD });
    const cookies = setCookies(res);
    return { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value };
  }
});

/**
 * The real pool, except that the first statement `holds` picks waits until `release()` (with `method`
 * `beginTransaction`: the first transaction it picks); `reached` says it got there.
 */
function holdingOne(db: Db, holds: (sql: string, values: unknown[]) => boolean, method: 'execute' | 'beginTransaction' = 'execute') {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let armed = true;
  const around: Around = async (sql, values, run) => {
    if (armed && holds(sql, values)) {
      armed = false;
      arrive();
      await released;
    }
    return run();
  };
  return { pool: hookedPool(db, around, [method]), reached, release };
}

/**
 * A login whose session starts after the change ended the account's sessions, but whose re-check of the account
 * ran before the change was written, is caught only by the change's second "end all sessions": this holds the
 * change's write until such a login is done.
 */
describe('a login that starts its session while a password change or a deletion waits to be written', function () {
  this.timeout(30_000);

  /** `statement`: the change's write to hold (how its SQL begins); without one, the first transaction begun once the account exists. */
  async function loginDuring(statement: string | undefined, event: (app: App, user: Tokens & { id: string }) => PromiseLike<request.Response>) {
    const { db } = await testStores();
    let userId = '';
    const held = statement
      ? holdingOne(db, (sql, values) => sql.startsWith(statement) && values.includes(userId))
      : holdingOne(db, () => userId !== '', 'beginTransaction');
    const { app } = await makeSite({ TRUST_PROXY: 'true' }, { db: held.pool });
    const user = await loggedInUser(app);
    userId = user.id;
    const done = Promise.resolve(event(app, user));
    await held.reached; // the sessions were ended once; the write waits
    const during = await postTo(app, '/user/login').set('X-Forwarded-For', someIp()).send({ id: user.id, password: PASSWORD });
    expect(during.status, 'the account was still as it was: the login got in').to.equal(303);
    held.release();
    expect((await done).status).to.equal(303);
    const tokens = { accessToken: setCookies(during).accessToken.value, refreshToken: setCookies(during).refreshToken.value };
    await refusedWithin(app, tokens, 1000);
    expect(isLoggedIn(await getInfo(app, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }))).to.equal(false);
  }

  it('a password change ends it', () =>
    loginDuring('UPDATE users SET password_hash = ? WHERE id = ?', (app, user) => {
      const password = 'a brand new passphrase';
      return postTo(app, '/user/password', cookieHeader(user)).send({ currentPassword: PASSWORD, password, confirmPassword: password });
    }));

  it('a deletion ends it', () =>
    loginDuring('DELETE users, security_events FROM users', (app, user) => postTo(app, '/user/delete', cookieHeader(user)).send({ password: PASSWORD })));

  it('a password reset ends it (its write is a transaction: the link spent, the password set, the mail written)', () =>
    loginDuring(undefined, async (app, user) => {
      const { db } = await testStores();
      const token = newToken();
      expect(await createResetLinks(db).issue(user.id, tokenHash(token), 60_000)).to.equal(true);
      const password = 'a brand new passphrase';
      return postTo(app, '/user/reset').send({ token, password, confirmPassword: password });
    }));
});
