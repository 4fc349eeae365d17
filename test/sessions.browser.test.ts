import http from 'node:http';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { makeSite, PASSWORD, register, uniqueId, type App } from './helpers/site.js';

describe('the sessions page in a real browser (headless Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let app: App;
  let site: http.Server;
  let base: string;
  const contexts: BrowserContext[] = [];

  before(async function () {
    skipWithoutChromium(this);
    ({ app } = await makeSite());
    site = http.createServer(app);
    base = `http://127.0.0.1:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    site?.close();
  });

  /** A browser of its own (cookies included), logged in with the login form. */
  async function loggedInBrowser(id: string, locale: string): Promise<Page> {
    const context = await browser.newContext({ locale });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/user/login`);
    await page.fill('#id', id);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/info`), page.click('button[type=submit]')]);
    return page;
  }

  it('ends the other browser’s session from the list: that browser is logged out on its next page load; the page passes axe in Korean and English', async () => {
    const id = uniqueId();
    await register(app, { id });
    const laptop = await loggedInBrowser(id, 'ko-KR');
    const phone = await loggedInBrowser(id, 'en-US');

    await phone.goto(`${base}/user/sessions`);
    expect(await phone.getAttribute('html', 'lang')).to.equal('en');
    expect(await phone.locator('li.session').count()).to.equal(2);
    await expectAccessible(phone, 'sessions (en)');

    await laptop.goto(`${base}/user/sessions`);
    expect(await laptop.getAttribute('html', 'lang')).to.equal('ko');
    expect(await laptop.title()).to.equal(`${ko('sessions.title')} · login-page`);
    // This device first and marked; the phone after it, its button naming it.
    const items = laptop.locator('li.session');
    expect(await items.count()).to.equal(2);
    expect(await items.nth(0).getAttribute('class')).to.equal('session current');
    expect(await items.nth(0).locator('.badge').textContent()).to.equal(ko('sessions.current'));
    const phoneDevice = (await items.nth(1).locator('h2').textContent())!;
    expect(phoneDevice).to.match(/Chrome \d+/);
    expect(await items.nth(1).locator('button').textContent()).to.equal(ko('sessions.revokeDevice', { device: phoneDevice }));
    await expectAccessible(laptop, 'sessions (ko)');

    await Promise.all([laptop.waitForURL(`${base}/user/sessions`), items.nth(1).locator('button').click()]);
    expect(await laptop.textContent('.notice')).to.equal(ko('sessions.notice.revoked'));
    expect(await laptop.locator('li.session').count()).to.equal(1);
    expect(await laptop.textContent('.aside')).to.equal(ko('sessions.noOthers'));
    await expectAccessible(laptop, 'sessions with a notice (ko)');

    // Its access token is still unexpired: it is refused because the session ended (within 1 s, as everywhere).
    const started = Date.now();
    await phone.goto(`${base}/user/info`);
    while ((await phone.textContent('h1')) !== en('info.guestHeading') && Date.now() - started < 1000) await phone.reload();
    expect(await phone.textContent('h1')).to.equal(en('info.guestHeading'));
    expect((await phone.context().cookies()).filter((c) => c.name.endsWith('Token'))).to.deep.equal([]);
    await phone.goto(`${base}/user/sessions`);
    const login = new URL(phone.url());
    expect([login.pathname, login.searchParams.get('next')]).to.deep.equal(['/user/login', '/user/sessions']);

    await laptop.reload();
    expect(await laptop.locator('li.session .badge').count()).to.equal(1);
  });
});
