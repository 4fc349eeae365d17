import { expect } from 'chai';
import request from 'supertest';
import { cookieHeader, expire, getInfo, isLoggedIn, loggedInUser, makeSite, postTo, setCookies, type App } from './helpers/site.js';

describe('logout', () => {
  let app: App;
  before(async () => ({ app } = await makeSite()));

  const refreshWorks = async (user: { accessToken: string; refreshToken: string }) =>
    isLoggedIn(await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken }));

  for (const method of ['get', 'post'] as const) {
    it(`${method.toUpperCase()} revokes the refresh session, clears both cookies and sends to /user/login`, async () => {
      const user = await loggedInUser(app);
      const logout = method === 'get' ? request(app).get('/user/logout').set('Cookie', cookieHeader(user)) : postTo(app, '/user/logout', cookieHeader(user));
      const res = await logout;
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal('/user/login');
      const cookies = setCookies(res);
      expect(cookies.accessToken.value).to.equal('');
      expect(cookies.refreshToken.value).to.equal('');
      expect(await refreshWorks(user)).to.equal(false);
    });
  }

  it('also revokes when only the access cookie arrives', async () => {
    const user = await loggedInUser(app);
    await request(app).get('/user/logout').set('Cookie', cookieHeader({ accessToken: user.accessToken }));
    expect(await refreshWorks(user)).to.equal(false);
  });

  it('a GET without auth cookies (a link on another site) changes nothing', async () => {
    const user = await loggedInUser(app);
    const res = await request(app).get('/user/logout');
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/user/login');
    expect(res.headers['set-cookie']).to.equal(undefined);
    expect(await refreshWorks(user)).to.equal(true);
  });

  it('a GET from a sibling subdomain or another site (Sec-Fetch-Site) changes nothing; one from our pages or typed logs out', async () => {
    for (const site of ['same-site', 'cross-site']) {
      const user = await loggedInUser(app);
      const res = await request(app).get('/user/logout').set('Cookie', cookieHeader(user)).set('Sec-Fetch-Site', site);
      expect(res.status).to.equal(303);
      expect(res.headers['set-cookie']).to.equal(undefined);
      expect(await refreshWorks(user)).to.equal(true);
    }
    for (const site of ['same-origin', 'none']) {
      const user = await loggedInUser(app);
      await request(app).get('/user/logout').set('Cookie', cookieHeader(user)).set('Sec-Fetch-Site', site);
      expect(await refreshWorks(user)).to.equal(false);
    }
  });

  it('forged tokens revoke nothing', async () => {
    const user = await loggedInUser(app);
    const forged = user.refreshToken.slice(0, -4) + 'AAAA';
    await request(app).get('/user/logout').set('Cookie', cookieHeader({ refreshToken: forged }));
    expect(await refreshWorks(user)).to.equal(true);
  });

  it('shows a one-time notice on the login page', async () => {
    const user = await loggedInUser(app);
    const res = await request(app).get('/user/logout').set('Cookie', cookieHeader(user));
    const notice = setCookies(res).notice.value;
    const page = await request(app).get('/user/login').set('Cookie', `notice=${encodeURIComponent(notice)}`);
    expect(page.text).to.include('You have logged out');
  });
});
