import http from 'node:http';
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { makeSite, PASSWORD, register, uniqueId, type App } from './helpers/site.js';

const codeAt = (secret: string, ahead: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + ahead * 30_000 });

describe('two-step verification in a real browser (headless Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let app: App;
  let site: http.Server;
  let base: string;
  let context: BrowserContext | undefined;

  before(async function () {
    skipWithoutChromium(this);
    ({ app } = await makeSite());
    site = http.createServer(app);
    base = `http://127.0.0.1:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    site?.close();
  });

  async function logIn(page: Page, id: string) {
    await page.goto(`${base}/user/login`);
    await page.fill('#id', id);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
  }

  it('turns TOTP on from the page (QR code, key, code), shows the recovery codes, then logs in with a code; every page passes axe and the CSP', async () => {
    const id = uniqueId();
    await register(app, { id });
    context = await browser.newContext({ locale: 'ko-KR' });
    const page = await context.newPage();
    // The wrong code's 400 is logged too; only what the CSP refused counts here.
    const refused: string[] = [];
    page.on('console', (message) => /Content Security Policy/i.test(message.text()) && refused.push(message.text()));

    await logIn(page, id);
    await page.waitForURL(`${base}/user/info`);
    await page.click('a[href="/user/2fa"]');
    await page.waitForURL(`${base}/user/2fa`);
    expect(await page.locator('.qr svg').isVisible()).to.equal(true);
    await expectAccessible(page, '2fa setup (ko)');
    const secret = (await page.textContent('#totp-secret'))!;
    await page.fill('#code', '000000');
    await page.click('form[action="/user/2fa/enable"] button');
    expect(await page.textContent('#code-error')).to.equal(ko('twoFactor.wrongCode'));
    await expectAccessible(page, '2fa setup with an error (ko)');
    await page.fill('#code', codeAt(secret, 0));
    await page.click('form[action="/user/2fa/enable"] button');
    expect(await page.locator('.recovery-code').count()).to.equal(10);
    await expectAccessible(page, 'recovery codes (ko)');

    await page.goto(`${base}/user/2fa?lang=en`);
    expect(await page.textContent('body')).to.include(en('twoFactor.onIntro'));
    await expectAccessible(page, '2fa on (en)');
    await page.goto(`${base}/user/logout`);

    await logIn(page, id);
    await page.waitForURL(`${base}/user/login/2fa`);
    await expectAccessible(page, 'login code (en)');
    await page.fill('#code', codeAt(secret, 1));
    await Promise.all([page.waitForURL(`${base}/user/info`), page.click('form:not(details form) button[type=submit]')]);
    expect(refused, 'nothing refused by the CSP').to.deep.equal([]);
  });
});
