import { expect } from 'chai';
import request from 'supertest';
import { cookieHeader, expire, getInfo, isLoggedIn, loggedInUser, makeSite, postTo, setCookies, type App } from './helpers/site.js';
import { ko } from './helpers/i18n.js';

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
    await request(app)
      .get('/user/logout')
      .set('Cookie', cookieHeader({ accessToken: user.accessToken }));
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
    await request(app)
      .get('/user/logout')
      .set('Cookie', cookieHeader({ refreshToken: forged }));
    expect(await refreshWorks(user)).to.equal(true);
  });

  /** What a browser or a JSON client takes from the info page: its CSRF cookie and the logout token. */
  async function readInfoPage(user: { accessToken: string; refreshToken: string }) {
    const page = await getInfo(app, user);
    expect(isLoggedIn(page)).to.equal(true);
    const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page.text)?.[1];
    expect(token, 'the info page carries a CSRF token').to.be.a('string');
    const cookie = `${cookieHeader(user)}; csrf=${encodeURIComponent(setCookies(page).csrf.value)}`;
    return { token: token!, cookie };
  }

  it('POST with the token read from the info page works as a form (_csrf, 303) and as JSON (x-csrf-token, 200)', async () => {
    const formUser = await loggedInUser(app);
    const fromPage = await readInfoPage(formUser);
    const form = await request(app).post('/user/logout').set('Cookie', fromPage.cookie).type('form').send({ _csrf: fromPage.token });
    expect(form.status).to.equal(303);
    expect(form.headers.location).to.equal('/user/login');
    expect(setCookies(form).accessToken.value).to.equal('');
    expect(await refreshWorks(formUser)).to.equal(false);

    const jsonUser = await loggedInUser(app);
    const fromJsonPage = await readInfoPage(jsonUser);
    const json = await request(app)
      .post('/user/logout')
      .set('Cookie', fromJsonPage.cookie)
      .set('x-csrf-token', fromJsonPage.token)
      .set('Accept', 'application/json');
    expect(json.status).to.equal(200);
    expect(json.body).to.deep.equal({ success: true });
    expect(setCookies(json).refreshToken.value).to.equal('');
    expect(await refreshWorks(jsonUser)).to.equal(false);
  });

  it("the info page's token is made once per session: the same on every view, another for another session", async () => {
    const user = await loggedInUser(app);
    const first = await readInfoPage(user);
    const again = await readInfoPage(user);
    expect(again).to.deep.equal(first);
    // A browser that sends the CSRF cookie back gets no Set-Cookie at all.
    const withCookie = await request(app).get('/user/info').set('Cookie', first.cookie);
    expect(withCookie.text).to.include(`<meta name="csrf-token" content="${first.token}">`);
    expect(withCookie.headers['set-cookie']).to.equal(undefined);
    const other = await readInfoPage(await loggedInUser(app));
    expect(other.token).not.to.equal(first.token);
  });

  it('POST with the info page cookies but without (or with a wrong) token is refused (403) and ends nothing', async () => {
    const user = await loggedInUser(app);
    const { token, cookie } = await readInfoPage(user);
    for (const sent of [undefined, token.slice(0, -4) + '0000']) {
      const res = await request(app)
        .post('/user/logout')
        .set('Cookie', cookie)
        .type('form')
        .send(sent ? { _csrf: sent } : {});
      expect(res.status).to.equal(403);
    }
    expect(await refreshWorks(user)).to.equal(true);
  });

  it('shows a one-time notice on the login page', async () => {
    const user = await loggedInUser(app);
    const res = await request(app).get('/user/logout').set('Cookie', cookieHeader(user));
    const notice = setCookies(res).notice.value;
    const page = await request(app)
      .get('/user/login')
      .set('Cookie', `notice=${encodeURIComponent(notice)}`);
    expect(page.text).to.include(ko('notice.loggedOut'));
  });
});
