import { mkdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { projectRoot } from '../src/config/paths.js';
import type { Lang } from '../src/utils/i18n.js';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { makeSite, PASSWORD } from './helpers/site.js';

// `npm run screenshots` refreshes the README's pictures; otherwise they are made (and checked) in a temporary folder.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(projectRoot, 'docs', 'screenshots') : path.join(os.tmpdir(), 'login-page-screenshots');
const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 375, height: 740 } };
const NARROWEST = 320;

const PEOPLE: Record<Lang, { locale: string; id: string; name: string }> = {
  ko: { locale: 'ko-KR', id: 'minjun_kim', name: '김민준' },
  en: { locale: 'en-US', id: 'emma_wilson', name: 'Emma Wilson' },
};

/** Screenshots at desktop and phone width; down to 320 px nothing may stick out sideways. */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: NARROWEST, height: 640 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, `${name} at ${NARROWEST} px`).to.equal(0);
  for (const [width, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDTHS.desktop);
}

describe('in a real browser (headless Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let site: http.Server;
  let base: string;

  before(async function () {
    skipWithoutChromium(this);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const { app } = await makeSite({ ACCESS_TOKEN_TTL: '1s', REFRESH_REUSE_GRACE: '10s' });
    site = http.createServer(app);
    base = `http://127.0.0.1:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    site?.close();
  });

  for (const lang of ['ko', 'en'] as const) {
    const t = { ko, en }[lang];
    const person = PEOPLE[lang];

    describe(`the whole journey in ${lang === 'ko' ? 'Korean' : 'English'} (the browser asks for ${person.locale})`, () => {
      let context: BrowserContext;
      let page: Page;
      const cspViolations: string[] = [];
      const authCookies = async () => (await context.cookies()).filter((c) => c.name.endsWith('Token'));
      const greeting = t('info.greeting', { name: person.name });

      before(async () => {
        context = await browser.newContext({ locale: person.locale, viewport: WIDTHS.desktop });
        page = await context.newPage();
        page.on('console', (message) => message.text().includes('Content Security Policy') && cspViolations.push(message.text()));
      });
      after(() => context?.close());

      it('registers after correcting the marked fields, logs in, and sees the info page with its styles', async () => {
        await page.goto(`${base}/user/register`);
        expect(await page.getAttribute('html', 'lang')).to.equal(lang);
        expect(await page.title()).to.equal(`${t('register.title')} · login-page`);
        await expectAccessible(page, 'register');

        await page.fill('#id', 'ab');
        await page.fill('#name', person.name);
        await page.fill('#password', 'short');
        await page.fill('#confirmPassword', 'short');
        await Promise.all([page.waitForURL(`${base}/user/register`), page.click('button[type=submit]')]);
        expect(await page.textContent('[role=alert]')).to.equal(t('register.invalid'));
        expect(await page.textContent('#id-error')).to.include(t('register.idInvalid'));
        expect(await page.getAttribute('#password', 'aria-describedby')).to.equal('password-hint password-error');
        expect(await page.evaluate(() => document.activeElement?.id)).to.equal('id');
        expect(await page.inputValue('#name')).to.equal(person.name);
        await expectAccessible(page, 'register with errors');
        await screenshot(page, `register-errors-${lang}`);

        await page.fill('#id', person.id);
        await page.fill('#password', PASSWORD);
        await page.fill('#confirmPassword', PASSWORD);
        await Promise.all([page.waitForURL(`${base}/user/login`), page.click('button[type=submit]')]);
        expect(await page.textContent('.notice')).to.equal(t('notice.registered'));
        await expectAccessible(page, 'login with a notice');
        await screenshot(page, `login-${lang}`);

        await page.fill('#id', person.id);
        await page.fill('#password', 'not the password');
        await Promise.all([page.waitForURL(`${base}/user/login`), page.click('button[type=submit]')]);
        expect(await page.textContent('[role=alert]')).to.equal(t('login.failed'));
        expect(await page.evaluate(() => document.activeElement?.id)).to.equal('password');
        await expectAccessible(page, 'login failed');

        await page.fill('#id', person.id.toUpperCase());
        await page.fill('#password', PASSWORD);
        await Promise.all([page.waitForURL(`${base}/user/info`), page.click('button[type=submit]')]);
        expect(await page.textContent('h1')).to.equal(greeting);
        expect(await page.textContent('dd')).to.equal(person.id);
        const button = await page.$eval('a.button[href="/user/logout"]', (link) => getComputedStyle(link).backgroundColor);
        expect(button).to.equal('rgb(26, 86, 196)');
        await expectAccessible(page, 'info');
        await screenshot(page, `info-${lang}`);
        await page.emulateMedia({ colorScheme: 'dark' });
        await screenshot(page, `info-${lang}-dark`);
        await page.emulateMedia({ colorScheme: 'light' });
        expect(cspViolations).to.deep.equal([]);
      });

      it('silently reissues the access cookie once the access token has expired', async () => {
        const before = await authCookies();
        await page.waitForTimeout(1500);
        await page.reload();
        expect(await page.textContent('h1')).to.equal(greeting);
        const after = await authCookies();
        const value = (cookies: typeof before, name: string) => cookies.find((c) => c.name === name)?.value;
        expect(value(after, 'accessToken')).to.not.equal(value(before, 'accessToken'));
        expect(value(after, 'refreshToken')).to.not.equal(value(before, 'refreshToken'));
        expect(after.every((c) => c.httpOnly && c.sameSite === 'Strict')).to.equal(true);
      });

      it('switches language with the link on the page, and remembers the choice', async () => {
        const other = lang === 'ko' ? 'en' : 'ko';
        await Promise.all([page.waitForURL(`${base}/user/info?lang=${other}`), page.click('a.lang-switch')]);
        expect(await page.getAttribute('html', 'lang')).to.equal(other);
        expect((await context.cookies()).find((c) => c.name === 'lang')).to.include({ value: other, httpOnly: true, sameSite: 'Lax' });
        await page.goto(`${base}/user/info`);
        expect(await page.getAttribute('html', 'lang')).to.equal(other);
        await Promise.all([page.waitForURL(`${base}/user/info?lang=${lang}`), page.click('a.lang-switch')]);
        expect(await page.textContent('h1')).to.equal(greeting);
      });

      it('a form on another site cannot log the person out (403, still logged in)', async () => {
        const evil = http.createServer((_req, res) => {
          res.setHeader('Content-Type', 'text/html');
          res.end(`<form method="post" action="${base}/user/logout"><button id="go">win a prize</button></form>`);
        });
        const evilBase = `http://localhost:${await listen(evil)}`;
        try {
          const attack = await context.newPage();
          await attack.goto(evilBase);
          const [response] = await Promise.all([attack.waitForNavigation(), attack.click('#go')]);
          expect(response?.status()).to.equal(403);
          expect(await attack.getAttribute('html', 'lang')).to.equal(lang);
          expect(await attack.textContent('[role=alert]')).to.equal(t('csrf.refused'));
          await expectAccessible(attack, '403 page');
          await attack.close();
          await page.reload();
          expect(await page.textContent('h1')).to.equal(greeting);
        } finally {
          evil.close();
        }
      });

      it('logs out with the link: cookies gone, and Back does not show the name again', async () => {
        await Promise.all([page.waitForURL(`${base}/user/login`), page.click('a[href="/user/logout"]')]);
        expect(await page.textContent('.notice')).to.equal(t('notice.loggedOut'));
        expect(await authCookies()).to.deep.equal([]);
        await page.goBack();
        expect(await page.textContent('body')).not.to.include(person.name);
        expect(await page.textContent('body')).to.include(t('info.guestText'));
        await expectAccessible(page, 'info, logged out');
      });

      it('logs out with POST /user/logout and the token the info page carries (a script on the page)', async () => {
        await page.goto(`${base}/user/login`);
        await page.fill('#id', person.id);
        await page.fill('#password', PASSWORD);
        await Promise.all([page.waitForURL(`${base}/user/info`), page.click('button[type=submit]')]);
        const answer = await page.evaluate(async () => {
          const token = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
          const res = await fetch('/user/logout', { method: 'POST', headers: { 'x-csrf-token': token, Accept: 'application/json' } });
          return { status: res.status, body: await res.json() };
        });
        expect(answer).to.deep.equal({ status: 200, body: { success: true } });
        expect(await authCookies()).to.deep.equal([]);
      });

      it('the 404 page', async () => {
        const response = await page.goto(`${base}/no/such/page`);
        expect(response?.status()).to.equal(404);
        expect(await page.title()).to.equal(`${t('error.title.404')} · login-page`);
        await expectAccessible(page, '404 page');
        expect(cspViolations).to.deep.equal([]);
      });
    });
  }

  it('the browser finds the favicon: no request of the pages fails', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const failed: string[] = [];
    page.on('response', (response) => response.status() >= 400 && failed.push(`${response.status()} ${response.url()}`));
    await page.goto(`${base}/user/login`);
    const favicon = await page.request.get(`${base}/favicon.ico`);
    expect(favicon.status()).to.equal(200);
    expect(failed).to.deep.equal([]);
    await context.close();
  });
});
