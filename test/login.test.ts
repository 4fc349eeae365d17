import { expect } from 'chai';
import argon2 from 'argon2';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import type { RowDataPacket } from 'mysql2/promise';
import {
  cookieHeader,
  expire,
  getInfo,
  isLoggedIn,
  login,
  makeSite,
  PASSWORD,
  postTo,
  register,
  SECRETS,
  setCookies,
  uniqueId,
  type App,
} from './helpers/site.js';
import type { Db } from '../src/config/clients.js';
import { ko } from './helpers/i18n.js';

describe('login', () => {
  let app: App;
  let db: Db;
  let id: string;
  before(async () => {
    ({ app, db } = await makeSite());
    id = uniqueId();
    await register(app, { id, name: 'Logger' });
  });

  const post = (fields: Record<string, string>) => postTo(app, '/user/login').send(fields);

  it('GET shows a form with id and password', async () => {
    const res = await request(app).get('/user/login');
    expect(res.status).to.equal(200);
    expect(res.text).to.include('name="id"').and.to.include('name="password"');
  });

  it('success: 303 to /user/info with both cookies; the access token carries sub, name, sid', async () => {
    const res = await post({ id, password: PASSWORD });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/user/info');
    expect(res.headers['cache-control']).to.equal('no-store');
    const cookies = setCookies(res);
    const access = jwt.verify(cookies.accessToken.value, SECRETS.ACCESS_TOKEN_SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(access).to.include({ sub: id, name: 'Logger' });
    expect(access.sid).to.be.a('string');
    const refresh = jwt.verify(cookies.refreshToken.value, SECRETS.REFRESH_TOKEN_SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(refresh).to.include({ sub: id, sid: access.sid });
    expect(refresh.jti).to.be.a('string');
  });

  it('matches the id without regard to case, and keeps the id as registered in the token', async () => {
    const tokens = await login(app, id.toUpperCase());
    expect((jwt.decode(tokens.accessToken) as jwt.JwtPayload).sub).to.equal(id);
  });

  it('failure: 401 with one message, identical for an unknown id and a wrong password, id kept', async () => {
    const wrong = await post({ id, password: 'not the password at all' });
    const unknown = await post({ id: uniqueId(), password: 'not the password at all' });
    expect(wrong.status).to.equal(401);
    expect(unknown.status).to.equal(401);
    const message = (text: string) => /role="alert">([^<]*)</.exec(text)?.[1];
    expect(message(wrong.text)).to.equal(ko('login.failed'));
    expect(message(unknown.text)).to.equal(message(wrong.text));
    expect(wrong.text).to.include(`value="${id}"`);
    expect(wrong.text).not.to.include('not the password at all');
    expect(setCookies(wrong)).not.to.have.any.keys('accessToken', 'refreshToken');
  });

  it('JSON failure and success', async () => {
    const bad = await post({ id, password: 'nope nope nope' }).set('Accept', 'application/json');
    expect(bad.status).to.equal(401);
    expect(bad.body).to.deep.equal({ success: false, msg: ko('login.failed'), errors: {} });
    const ok = await post({ id, password: PASSWORD }).set('Accept', 'application/json');
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal({ success: true });
    expect(setCookies(ok)).to.include.keys('accessToken', 'refreshToken');
  });

  it('missing fields: 400 with a message per field', async () => {
    const res = await post({ id: '' });
    expect(res.status).to.equal(400);
    expect(res.text).to.include(ko('login.idRequired')).and.to.include(ko('login.passwordRequired'));
  });

  it('follows a same-origin next path and ignores any other', async () => {
    const page = await request(app).get('/user/login?next=%2Fuser%2Finfo%3Ftab%3D1');
    expect(page.text).to.include('name="next" value="/user/info?tab=1"');
    expect((await post({ id, password: PASSWORD, next: '/user/info?tab=1' })).headers.location).to.equal('/user/info?tab=1');
    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example/', '/\t/evil.example', 'javascript:alert(1)']) {
      expect((await post({ id, password: PASSWORD, next })).headers.location, next).to.equal('/user/info');
    }
    const hostile = await request(app).get('/user/login?next=%2F%2Fevil.example');
    expect(hostile.text).to.include('name="next" value=""');
  });

  it('a logged-in visitor is sent from the login page to the info page', async () => {
    const tokens = await login(app, id);
    const res = await request(app).get('/user/login').set('Cookie', cookieHeader(tokens));
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.equal('/user/info');
  });

  it('always starts a new session and revokes the one whose refresh cookie it carried', async () => {
    const first = await login(app, id);
    const second = await login(app, id, PASSWORD, cookieHeader(first));
    expect(jwt.decode(second.accessToken)).to.not.deep.include({ sid: (jwt.decode(first.accessToken) as jwt.JwtPayload).sid });
    const old = await getInfo(app, { accessToken: expire(first.accessToken), refreshToken: first.refreshToken });
    expect(isLoggedIn(old, 'Logger')).to.equal(false);
    const current = await getInfo(app, { accessToken: expire(second.accessToken), refreshToken: second.refreshToken });
    expect(isLoggedIn(current, 'Logger')).to.equal(true);
  });

  it('logging in again at MAX_SESSIONS_PER_USER replaces the carried session and leaves the other devices alone', async () => {
    const { app: capped } = await makeSite({ MAX_SESSIONS_PER_USER: '2' });
    const user = uniqueId();
    await register(capped, { id: user, name: 'Capped' });
    const otherDevice = await login(capped, user);
    const browser = await login(capped, user);
    const again = await login(capped, user, PASSWORD, cookieHeader(browser));
    const refreshes = (tokens: { accessToken: string; refreshToken: string }) =>
      getInfo(capped, { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken }).then((res) => isLoggedIn(res, 'Capped'));
    expect(await refreshes(otherDevice)).to.equal(true);
    expect(await refreshes(again)).to.equal(true);
    expect(await refreshes(browser)).to.equal(false);
  });

  it('30 parallel logins of one account at MAX_SESSIONS_PER_USER=3: every one succeeds, and exactly 3 sessions stay live', async () => {
    const { app: capped } = await makeSite({ MAX_SESSIONS_PER_USER: '3', HASH_CONCURRENCY: '64', TRUST_PROXY: 'true' });
    const user = uniqueId();
    await register(capped, { id: user, name: 'Crowd' });
    const logins = await Promise.all(
      Array.from({ length: 30 }, (_, i) => postTo(capped, '/user/login').set('X-Forwarded-For', `10.9.${i}.1`).send({ id: user, password: PASSWORD })),
    );
    expect(logins.map((res) => res.status)).to.deep.equal(Array(30).fill(303));
    const live = await Promise.all(
      logins.map((res) => {
        const cookies = setCookies(res);
        return getInfo(capped, { accessToken: expire(cookies.accessToken.value), refreshToken: cookies.refreshToken.value }).then((page) =>
          isLoggedIn(page, 'Crowd'),
        );
      }),
    );
    expect(live.filter(Boolean)).to.have.length(3);
  });

  it('re-hashes a password stored with older argon2 parameters on a successful login', async () => {
    const oldId = uniqueId();
    await register(app, { id: oldId });
    const weak = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await db.execute('UPDATE users SET password_hash = ? WHERE id = ?', [weak, oldId]);
    await login(app, oldId);
    const [rows] = await db.query<RowDataPacket[]>('SELECT password_hash FROM users WHERE id = ?', [oldId]);
    expect(rows[0].password_hash).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });
});
