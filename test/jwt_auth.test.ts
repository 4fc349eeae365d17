import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { expire, getInfo, isLoggedIn, loggedInUser, login, makeSite, PASSWORD, postTo, SECRETS, setCookies, type App, type Tokens } from './helpers/site.js';
import { ko } from './helpers/i18n.js';
import { redisKeyPrefix, testStores } from './helpers/stores.js';

const claimsOf = (token: string) => jwt.decode(token) as jwt.JwtPayload;
const jtiOf = (token: string) => claimsOf(token).jti;
/** The same login's tokens with the access token expired: the next request refreshes. */
const stale = (tokens: Tokens): Tokens => ({ accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken });

/** Re-signs a token's payload, with changes, by any key and algorithm: the forger's tool. */
function forge(token: string, changes: Record<string, unknown>, key: string, algorithm: jwt.Algorithm = 'HS256'): string {
  return jwt.sign({ ...(jwt.decode(token) as object), ...changes }, key, { algorithm });
}

function unsignedToken(token: string): string {
  const payload = Buffer.from(JSON.stringify(jwt.decode(token))).toString('base64url');
  return `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
}

describe('jwt_auth: the four cases', () => {
  let app: App;
  before(async () => ({ app } = await makeSite()));

  it('case 1: without an access cookie the visitor is not logged in and no cookie is touched', async () => {
    const res = await getInfo(app, {});
    expect(res.status).to.equal(200);
    expect(res.text).to.include('href="/user/login"');
    expect(res.text).not.to.include(ko('info.sessionEnded'));
    expect(res.headers['set-cookie']).to.equal(undefined);
  });

  it('case 2: a valid access token shows the name and sets no cookie', async () => {
    const user = await loggedInUser(app, 'Case Two');
    const res = await getInfo(app, user);
    expect(isLoggedIn(res, 'Case Two')).to.equal(true);
    expect(res.text).to.include('href="/user/logout"');
    // Only the CSRF cookie that goes with the page's logout token.
    expect(Object.keys(setCookies(res))).to.deep.equal(['csrf']);
  });

  it('case 3: an expired access token with a valid refresh token is reissued, and the refresh token rotated', async () => {
    const user = await loggedInUser(app);
    const res = await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken });
    expect(isLoggedIn(res)).to.equal(true);
    const cookies = setCookies(res);
    expect(cookies.accessToken.value).to.be.a('string').and.not.equal('');
    expect(cookies.refreshToken.value).to.not.equal(user.refreshToken);
    const claims = jwt.verify(cookies.accessToken.value, SECRETS.ACCESS_TOKEN_SECRET) as jwt.JwtPayload;
    expect(claims.sub).to.equal(user.id);
    expect(claims.exp! * 1000).to.be.greaterThan(Date.now());
    // The new pair works on its own.
    const again = await getInfo(app, { accessToken: expire(cookies.accessToken.value), refreshToken: cookies.refreshToken.value });
    expect(isLoggedIn(again)).to.equal(true);
  });

  it("case 3 never extends the absolute lifetime: rotations a second apart keep the login's deadline, in the token and in Redis", async () => {
    const user = await loggedInUser(app);
    const deadline = claimsOf(user.refreshToken).exp! * 1000;
    let tokens: Tokens = user;
    for (let i = 0; i < 2; i++) {
      await sleep(1100);
      const cookies = setCookies(await getInfo(app, stale(tokens)));
      tokens = { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value };
      expect(claimsOf(tokens.refreshToken).exp! * 1000).to.equal(deadline);
      expect(Number(/Max-Age=(\d+)/.exec(cookies.refreshToken.attributes)?.[1]) * 1000).to.be.at.most(deadline - Date.now() + 1000);
    }
    const { redis } = await testStores();
    const key = `${redisKeyPrefix}session:{${user.id}}:${claimsOf(user.accessToken).sid}`;
    expect(Number(await redis.hGet(key, 'absExp'))).to.be.within(deadline, deadline + 999);
    expect(await redis.pTTL(key)).to.be.at.most(deadline + 1000 - Date.now());
  });

  it('a refresh never lets the session key outlive the absolute deadline, even when the idle limit is longer (REFRESH_TOKEN_TTL 20s, SESSION_IDLE_TTL 60s)', async () => {
    const { app, redis } = await makeSite({ ACCESS_TOKEN_TTL: '5s', REFRESH_TOKEN_TTL: '20s', SESSION_IDLE_TTL: '60s' });
    const user = await loggedInUser(app);
    const refreshed = setCookies(await getInfo(app, stale(user)));
    expect(refreshed.refreshToken.value, 'case 3 rotated').to.be.a('string').and.not.equal(user.refreshToken);
    const key = `${redisKeyPrefix}session:{${user.id}}:${claimsOf(user.accessToken).sid}`;
    const deadline = Number(await redis.hGet(key, 'absExp'));
    const now = Date.now();
    expect(await redis.pTTL(key)).to.be.within(1, deadline - now + 50);
  });

  it('case 4: an expired access token without a refresh cookie is not reissued; both cookies are cleared once', async () => {
    const user = await loggedInUser(app);
    const res = await getInfo(app, { accessToken: expire(user.accessToken) });
    expect(isLoggedIn(res)).to.equal(false);
    expect(res.text).to.include(ko('info.sessionEnded'));
    const cookies = setCookies(res);
    expect(cookies.accessToken.value).to.equal('');
    expect(cookies.refreshToken.value).to.equal('');
    expect(cookies.accessToken.attributes).to.match(/Expires=Thu, 01 Jan 1970/);
    const next = await getInfo(app, {});
    expect(next.text).not.to.include(ko('info.sessionEnded'));
  });

  it('case 4: an expired refresh token ends the session', async () => {
    const user = await loggedInUser(app);
    const now = Math.floor(Date.now() / 1000);
    const refreshToken = forge(user.refreshToken, { iat: now - 100, exp: now - 10 }, SECRETS.REFRESH_TOKEN_SECRET);
    const res = await getInfo(app, { accessToken: expire(user.accessToken), refreshToken });
    expect(isLoggedIn(res)).to.equal(false);
    expect(setCookies(res).accessToken.value).to.equal('');
  });
});

describe('jwt_auth: forged and confused tokens are case 4', () => {
  let app: App;
  let user: Awaited<ReturnType<typeof loggedInUser>>;
  before(async () => {
    ({ app } = await makeSite());
    user = await loggedInUser(app, 'Victim');
  });

  const expectRefused = async (tokens: { accessToken?: string; refreshToken?: string }) => {
    const res = await getInfo(app, tokens);
    expect(res.status).to.equal(200);
    expect(isLoggedIn(res, 'Victim')).to.equal(false);
    expect(setCookies(res).accessToken?.value).to.equal('');
  };

  it('an access token signed with another secret', () => expectRefused({ accessToken: forge(user.accessToken, {}, 'attacker-secret-attacker-secret-123') }));

  it('an access token with alg none', () => expectRefused({ accessToken: unsignedToken(user.accessToken) }));

  it('an access token signed with HS512 and the right secret', () =>
    expectRefused({ accessToken: forge(user.accessToken, {}, SECRETS.ACCESS_TOKEN_SECRET, 'HS512') }));

  it('an access token whose payload was edited (another user) under the original signature', async () => {
    const [header, , signature] = user.accessToken.split('.');
    const payload = Buffer.from(JSON.stringify({ ...(jwt.decode(user.accessToken) as object), sub: 'admin', name: 'Admin' })).toString('base64url');
    await expectRefused({ accessToken: `${header}.${payload}.${signature}` });
  });

  it('a refresh token presented as the access token', () => expectRefused({ accessToken: user.refreshToken, refreshToken: user.refreshToken }));

  it("an expired access token forged with another secret, even with the victim's valid refresh token", () =>
    expectRefused({ accessToken: forge(expire(user.accessToken), {}, 'attacker-secret-attacker-secret-123'), refreshToken: user.refreshToken }));

  it("an expired access token with alg none and the victim's valid refresh token", () =>
    expectRefused({ accessToken: unsignedToken(expire(user.accessToken)), refreshToken: user.refreshToken }));

  it('a refresh token from another session of the same user, and neither session is touched', async () => {
    const mine = await login(app, user.id);
    const other = await login(app, user.id);
    await expectRefused({ accessToken: expire(mine.accessToken), refreshToken: other.refreshToken });
    for (const session of [mine, other]) expect(isLoggedIn(await getInfo(app, stale(session)), 'Victim')).to.equal(true);
  });

  it('an access token presented as the refresh token', () => expectRefused({ accessToken: expire(user.accessToken), refreshToken: user.accessToken }));

  it('garbage in the access cookie', () => expectRefused({ accessToken: 'not.a.jwt' }));

  it("leaves the victim's real session working afterwards", async () => {
    const res = await getInfo(app, user);
    expect(isLoggedIn(res, 'Victim')).to.equal(true);
  });
});

describe('refresh rotation, grace and reuse', () => {
  it('ten parallel refreshes with the same tokens all succeed and exactly one rotates', async () => {
    const { app } = await makeSite();
    const user = await loggedInUser(app);
    const tokens = { accessToken: expire(user.accessToken), refreshToken: user.refreshToken };
    const responses = await Promise.all(Array.from({ length: 10 }, () => getInfo(app, tokens)));
    expect(responses.map((res) => isLoggedIn(res))).to.deep.equal(Array(10).fill(true));
    expect(responses.every((res) => setCookies(res).accessToken?.value)).to.equal(true);
    // One rotation: every response carries the same successor (a second rotation would have made another jti).
    const jtis = new Set(responses.map((res) => jtiOf(setCookies(res).refreshToken.value)));
    expect(jtis.size).to.equal(1);
    expect([...jtis][0]).to.not.equal(jtiOf(user.refreshToken));
    const newest = setCookies(responses[0]).refreshToken.value;
    const later = await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: newest });
    expect(isLoggedIn(later)).to.equal(true);
  });

  it('within the grace window the old refresh token gets a new access cookie and the same successor again', async () => {
    const { app } = await makeSite({ REFRESH_REUSE_GRACE: '10s' });
    const user = await loggedInUser(app);
    const tokens = { accessToken: expire(user.accessToken), refreshToken: user.refreshToken };
    const first = setCookies(await getInfo(app, tokens)).refreshToken.value;
    const res = await getInfo(app, tokens);
    expect(isLoggedIn(res)).to.equal(true);
    expect(setCookies(res).accessToken.value).to.not.equal('');
    expect(jtiOf(setCookies(res).refreshToken.value)).to.equal(jtiOf(first));
  });

  it('a rotating response that never reached the browser heals: the retry within the grace window carries the successor', async () => {
    const { app } = await makeSite({ REFRESH_REUSE_GRACE: '300ms' });
    const user = await loggedInUser(app);
    const stale = { accessToken: expire(user.accessToken), refreshToken: user.refreshToken };
    await getInfo(app, stale); // rotates; its answer is lost
    const retry = setCookies(await getInfo(app, stale));
    await sleep(500);
    // The browser holds what the retry set: after the grace window that is the current token, not a reused one.
    const later = await getInfo(app, { accessToken: expire(retry.accessToken.value), refreshToken: retry.refreshToken.value });
    expect(isLoggedIn(later)).to.equal(true);
    // Exactly one refresh token stays valid: the original one now counts as reuse.
    expect(isLoggedIn(await getInfo(app, stale))).to.equal(false);
  });

  it('after the grace window the old refresh token revokes the whole session, newest token included', async () => {
    const { app } = await makeSite({ REFRESH_REUSE_GRACE: '200ms' });
    const user = await loggedInUser(app);
    const stale = { accessToken: expire(user.accessToken), refreshToken: user.refreshToken };
    const newest = setCookies(await getInfo(app, stale)).refreshToken.value;
    await sleep(400);
    const reuse = await getInfo(app, stale);
    expect(isLoggedIn(reuse)).to.equal(false);
    expect(setCookies(reuse).refreshToken.value).to.equal('');
    const thief = await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: newest });
    expect(isLoggedIn(thief)).to.equal(false);
  });

  it('a new login beyond MAX_SESSIONS_PER_USER ends the least recently used session', async () => {
    const { app } = await makeSite({ MAX_SESSIONS_PER_USER: '2' });
    const user = await loggedInUser(app);
    const second = await login(app, user.id);
    await sleep(5);
    // Using the first session makes the second the least recently used one.
    const used = setCookies(await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken }));
    await sleep(5);
    await login(app, user.id);
    const refreshes = (tokens: { accessToken: string; refreshToken: string }) => getInfo(app, { ...tokens, accessToken: expire(tokens.accessToken) });
    expect(isLoggedIn(await refreshes(second))).to.equal(false);
    expect(isLoggedIn(await refreshes({ accessToken: used.accessToken.value, refreshToken: used.refreshToken.value }))).to.equal(true);
  });

  it('a session unused for SESSION_IDLE_TTL ends', async () => {
    const { app } = await makeSite({ SESSION_IDLE_TTL: '1s', ACCESS_TOKEN_TTL: '1s', REFRESH_TOKEN_TTL: '1h' });
    const user = await loggedInUser(app);
    await sleep(1300);
    const res = await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken });
    expect(isLoggedIn(res)).to.equal(false);
  });

  it('cookies last until the absolute deadline, so the access cookie outlives its token', async () => {
    const { app } = await makeSite({ ACCESS_TOKEN_TTL: '10m', REFRESH_TOKEN_TTL: '14d' });
    const id = (await loggedInUser(app)).id;
    const res = await postTo(app, '/user/login').send({ id, password: PASSWORD });
    for (const name of ['accessToken', 'refreshToken']) {
      const { attributes } = setCookies(res)[name];
      const maxAge = Number(/Max-Age=(\d+)/.exec(attributes)?.[1]);
      expect(maxAge).to.be.within(14 * 86400 - 5, 14 * 86400);
      expect(attributes)
        .to.match(/HttpOnly/)
        .and.to.match(/SameSite=Strict/)
        .and.to.match(/Path=\//);
      expect(attributes).not.to.match(/Secure/);
    }
  });
});
