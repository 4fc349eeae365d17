import { expect } from 'chai';
import request from 'supertest';
import { createApp } from '../app.js';
import { createDb } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { makeSite, postTo, SECRETS, uniqueId, type App } from './helpers/site.js';
import { testStores, testSubscriber } from './helpers/stores.js';
import { ko } from './helpers/i18n.js';

describe('pages and endpoints', () => {
  let app: App;
  before(async () => ({ app } = await makeSite()));

  it('GET / redirects (302) to /user/info', async () => {
    const res = await request(app).get('/');
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.equal('/user/info');
  });

  it('unknown paths get a 404 page, or JSON for JSON clients', async () => {
    const page = await request(app).get('/no/such/page');
    expect(page.status).to.equal(404);
    expect(page.text).to.include(ko('error.title.404')).and.to.include(ko('error.notFound'));
    const json = await request(app).get('/no/such/page').set('Accept', 'application/json');
    expect(json.status).to.equal(404);
    expect(json.body).to.deep.include({ success: false });
  });

  it('/healthz answers 200 and /readyz 200 while both stores answer', async () => {
    expect((await request(app).get('/healthz')).status).to.equal(200);
    const ready = await request(app).get('/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.equal({ mysql: true, redis: true, missing: [], listener: 'live', eventsLost: 0 });
  });

  it('/readyz answers 503 and names MySQL when it does not answer', async () => {
    const { redis } = await testStores();
    const deadDb = createDb('mysql://nobody:x@127.0.0.1:1/none');
    const broken = createApp({ config: loadConfig(SECRETS), db: deadDb, redis, subscriber: testSubscriber() });
    const ready = await request(broken).get('/readyz');
    expect(ready.status).to.equal(503);
    expect(ready.body.missing).to.deep.equal(['mysql']);
    await deadDb.end();
  });

  it('a store failure gives an error page with no stack, SQL or error object', async () => {
    const { redis } = await testStores();
    const deadDb = createDb('mysql://nobody:x@127.0.0.1:1/none');
    const { app: broken } = await makeSite({}, { db: deadDb, redis });
    for (const accept of ['text/html', 'application/json']) {
      const res = await postTo(broken, '/user/login').set('Accept', accept).send({ id: uniqueId(), password: 'whatever-it-is' });
      expect(res.status).to.be.at.least(500);
      expect(res.text).not.to.match(/ECONNREFUSED|at .*\.ts:\d+|SELECT|stack/i);
    }
    await deadDb.end();
  });

  it('serves the stylesheet from /static and no inline style or script on pages', async () => {
    const css = await request(app).get('/static/style.css');
    expect(css.status).to.equal(200);
    expect(css.headers['content-type']).to.match(/text\/css/);
    const page = await request(app).get('/user/register');
    // Scripts come from /static only (the CSP allows no other): no inline script, style or style attribute.
    expect(page.text).not.to.match(/<script(?![^>]*\ssrc="\/static\/)|<style|style="/);
  });

  it('has a favicon: <link rel="icon"> on pages, and /favicon.ico answers', async () => {
    const page = await request(app).get('/user/login');
    const icon = /<link rel="icon" href="([^"]+)"/.exec(page.text)?.[1];
    expect(icon).to.be.a('string');
    const linked = await request(app).get(icon!);
    expect(linked.status).to.equal(200);
    expect(linked.headers['content-type']).to.match(/^image\/svg\+xml/);
    const ico = await request(app).get('/favicon.ico');
    expect(ico.status).to.equal(200);
    expect(ico.headers['content-type']).to.match(/^image\/(x-icon|vnd\.microsoft\.icon)/);
    expect(ico.body.subarray(0, 4)).to.deep.equal(Buffer.from([0, 0, 1, 0]));
  });

  it('forms: every input has a tied label and autocomplete; errors are tied and the first invalid field has the focus', async () => {
    const inputs = (html: string) => [...html.matchAll(/<input id="(\w+)"[^>]*>/g)];
    for (const path of ['/user/login', '/user/register']) {
      const page = await request(app).get(path);
      for (const [input, id] of inputs(page.text)) {
        expect(page.text, id).to.include(`<label for="${id}">`);
        expect(input, id).to.match(/autocomplete="(username|current-password|new-password|name|email)"/);
      }
    }
    const login = await request(app).get('/user/login');
    expect(login.text).to.match(/<input id="password"[^>]*autocomplete="current-password"/);
    const res = await postTo(app, '/user/register').send({ id: uniqueId(), name: '', password: 'short', confirmPassword: 'short' });
    expect(res.status).to.equal(400);
    const fields = Object.fromEntries(inputs(res.text).map(([input, id]) => [id, input]));
    expect(fields.password).to.include('autocomplete="new-password"');
    expect(fields.id).not.to.include('aria-invalid').and.not.to.include('autofocus');
    expect(fields.name).to.include('aria-invalid="true"').and.to.include('aria-describedby="name-hint name-error"').and.to.include('autofocus');
    expect(fields.password).to.include('aria-invalid="true"').and.to.include('aria-describedby="password-hint password-error"').and.not.to.include('autofocus');
    expect(res.text).to.include('<p class="field-error" id="name-error">').and.to.include('<p class="field-error" id="password-error">');
    expect(res.text.match(/ autofocus/g)).to.have.length(1);
  });

  it('sends no X-Powered-By header', async () => {
    const res = await request(app).get('/user/login');
    expect(res.headers['x-powered-by']).to.equal(undefined);
  });
});
