import { expect } from 'chai';
import request from 'supertest';
import { ConfigError, loadConfig } from '../src/config/index.js';
import {
  cookieHeader,
  expire,
  fetchFormToken,
  getInfo,
  isLoggedIn,
  loggedInUser,
  makeSite,
  PASSWORD,
  postTo,
  register,
  setCookies,
  uniqueId,
  type App,
} from './helpers/site.js';
import { ko } from './helpers/i18n.js';

describe('CSRF and cross-site requests', () => {
  let app: App;
  before(async () => ({ app } = await makeSite()));

  it('every form carries a hidden _csrf field and the CSRF cookie is HttpOnly and SameSite=Strict', async () => {
    for (const path of ['/user/login', '/user/register']) {
      const res = await request(app).get(path);
      expect(res.text).to.match(/<input type="hidden" name="_csrf" value="[^"]{20,}">/);
      expect(setCookies(res).csrf.attributes)
        .to.match(/HttpOnly/)
        .and.to.match(/SameSite=Strict/);
    }
  });

  it('a POST without the token, or with another one, gets 403 (page and JSON) and changes nothing', async () => {
    const user = await loggedInUser(app);
    const { cookie } = await fetchFormToken(app);
    const attempts = [
      request(app).post('/user/login').type('form').send({ id: user.id, password: PASSWORD }),
      request(app).post('/user/login').set('Cookie', cookie).type('form').send({ id: user.id, password: PASSWORD, _csrf: 'forged' }),
      request(app)
        .post('/user/logout')
        .set('Cookie', [cookie, cookieHeader(user)].join('; '))
        .set('x-csrf-token', 'x'),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).to.equal(403);
      expect(res.text).to.include(ko('csrf.refused'));
      expect(setCookies(res)).not.to.have.any.keys('accessToken', 'refreshToken');
    }
    const json = await request(app).post('/user/register').set('Accept', 'application/json').send({ id: 'abcd' });
    expect(json.status).to.equal(403);
    expect(json.body.success).to.equal(false);
    expect(isLoggedIn(await getInfo(app, { accessToken: expire(user.accessToken), refreshToken: user.refreshToken }))).to.equal(true);
  });

  it('the token from the hidden field works as the form sends it', async () => {
    const user = await loggedInUser(app);
    const { cookie, token } = await fetchFormToken(app);
    const res = await request(app).post('/user/login').set('Cookie', cookie).type('form').send({ id: user.id, password: PASSWORD, _csrf: token });
    expect(res.status).to.equal(303);
  });

  it('a POST whose Origin is another site, or that says Sec-Fetch-Site: cross-site, gets 403 even with a valid token', async () => {
    const user = await loggedInUser(app);
    const send = (header: string, value: string) => postTo(app, '/user/login').set(header, value).send({ id: user.id, password: PASSWORD });
    expect((await send('Origin', 'https://evil.example')).status).to.equal(403);
    expect((await send('Origin', 'null')).status).to.equal(403);
    expect((await send('Sec-Fetch-Site', 'cross-site')).status).to.equal(403);
    const sameOrigin = await postTo(app, '/user/login').set('Origin', 'http://site.test').set('Host', 'site.test').send({ id: user.id, password: PASSWORD });
    expect(sameOrigin.status).to.equal(303);
  });
});

describe("the site's own origin behind a proxy", () => {
  const post = (app: App, id: string) => postTo(app, '/user/login').send({ id, password: PASSWORD });

  it('PUBLIC_ORIGIN: a POST from that origin passes although the proxy rewrote Host; any other origin gets 403', async () => {
    const { app } = await makeSite({ PUBLIC_ORIGIN: 'https://login.example.com' });
    const { id } = await loggedInUser(app);
    expect((await post(app, id).set('Host', '10.0.0.7:3000').set('Origin', 'https://login.example.com')).status).to.equal(303);
    expect((await post(app, id).set('Host', 'login.example.com').set('Origin', 'http://login.example.com')).status).to.equal(403);
    expect((await post(app, id).set('Host', 'login.example.com').set('Origin', 'https://evil.example.com')).status).to.equal(403);
  });

  it('without it, the forwarded host counts only when TRUST_PROXY vouches for the proxy', async () => {
    const send = (app: App, id: string) =>
      post(app, id).set('Host', '10.0.0.7:3000').set('X-Forwarded-Host', 'login.example.com').set('Origin', 'https://login.example.com');
    const { app: trusting } = await makeSite({ TRUST_PROXY: 'true' });
    expect((await send(trusting, (await loggedInUser(trusting)).id)).status).to.equal(303);
    const { app: direct } = await makeSite();
    expect((await send(direct, (await loggedInUser(direct)).id)).status).to.equal(403);
    // A forwarded host with the scheme's default port is the same host.
    const withPort = await post(trusting, (await loggedInUser(trusting)).id)
      .set('X-Forwarded-Host', 'login.example.com:443')
      .set('Origin', 'https://login.example.com');
    expect(withPort.status).to.equal(303);
  });

  it('refuses a PUBLIC_ORIGIN that is not an origin', () => {
    for (const value of ['login.example.com', 'https://login.example.com/app', 'ftp://login.example.com']) {
      expect(() => loadConfig({ PUBLIC_ORIGIN: value }), value).to.throw(ConfigError, /PUBLIC_ORIGIN/);
    }
    expect(loadConfig({ PUBLIC_ORIGIN: 'https://Login.Example.com:8443/' }).publicOrigin).to.equal('https://login.example.com:8443');
  });
});

describe('security headers and caching', () => {
  it('every page has a strict CSP, nosniff, a same-origin referrer policy, and no X-Powered-By or HSTS in development', async () => {
    const { app } = await makeSite();
    for (const path of ['/user/login', '/user/info', '/no/such/page']) {
      const res = await request(app).get(path);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).to.include("frame-ancestors 'none'").and.to.include("script-src 'self'").and.to.include("style-src 'self'");
      expect(csp).not.to.include('unsafe-inline');
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['referrer-policy']).to.equal('same-origin');
      expect(res.headers['x-powered-by']).to.equal(undefined);
      expect(res.headers['strict-transport-security']).to.equal(undefined);
    }
  });

  it('no-store on personal pages and auth responses, so Back after logout shows no name', async () => {
    const { app } = await makeSite();
    const user = await loggedInUser(app);
    expect((await getInfo(app, user)).headers['cache-control']).to.equal('no-store');
    expect((await postTo(app, '/user/login').send({ id: user.id, password: PASSWORD })).headers['cache-control']).to.equal('no-store');
    expect((await request(app).get('/user/logout').set('Cookie', cookieHeader(user))).headers['cache-control']).to.equal('no-store');
  });

  it('in production: HSTS, and __Host- cookies that are Secure', async () => {
    const { app } = await makeSite({ NODE_ENV: 'production' });
    const page = await request(app).get('/user/login');
    expect(page.headers['strict-transport-security']).to.match(/max-age=\d+/);
    expect(setCookies(page)['__Host-csrf'].attributes).to.match(/Secure/);
    const id = uniqueId();
    await register(app, { id });
    const res = await postTo(app, '/user/login').send({ id, password: PASSWORD });
    for (const name of ['__Host-accessToken', '__Host-refreshToken']) {
      expect(setCookies(res)[name].attributes)
        .to.match(/Secure/)
        .and.to.match(/Path=\//)
        .and.not.to.match(/Domain=/);
    }
  });
});
