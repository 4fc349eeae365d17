import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Db } from '../src/config/clients.js';
import { projectRoot } from '../src/config/paths.js';
import { createUserModel } from '../src/models/user.js';
import type { Lang } from '../src/utils/i18n.js';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { makeSite, PASSWORD, register, type App } from './helpers/site.js';
import { postRoutes } from './helpers/routes.js';

// `npm run screenshots` refreshes the README's pictures of these pages; otherwise they go to a temporary folder.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? path.join(projectRoot, 'docs', 'screenshots') : path.join(os.tmpdir(), 'login-page-screenshots');
const SIZES = { phone: { width: 360, height: 740 }, desktop: { width: 1280, height: 800 } } as const;
const T = { ko, en };
const LOCALES: Record<Lang, string> = { ko: 'ko-KR', en: 'en-US' };

/** A browser page that records what went wrong in it: console errors and requests that failed or answered 5xx. */
interface Watched {
  page: Page;
  problems: string[];
}

describe('the account pages in a real browser: phone and desktop, Korean and English (headless Chromium)', function () {
  this.timeout(300_000);
  let browser: Browser;
  let app: App;
  let db: Db;
  let site: http.Server;
  let base: string;
  const contexts: BrowserContext[] = [];

  before(async function () {
    skipWithoutChromium(this);
    mkdirSync(SCREENSHOTS, { recursive: true });
    ({ app, db } = await makeSite({ LOGIN_MAX_FAILURES: '1000' }));
    site = http.createServer(app);
    base = `http://localhost:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    site?.close();
  });

  async function browserFor(lang: Lang, size: keyof typeof SIZES = 'desktop'): Promise<Watched> {
    const context = await browser.newContext({ locale: LOCALES[lang], viewport: SIZES[size], acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // A form answered with 4xx is the page itself (the person corrects it), not a broken resource.
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    // A load cut short by the next navigation (ERR_ABORTED) is the test moving on, not a failure of the site.
    page.on(
      'requestfailed',
      (request) => request.failure()?.errorText !== 'net::ERR_ABORTED' && problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`),
    );
    page.on('response', (response) => response.status() >= 500 && problems.push(`${response.status()}: ${response.url()}`));
    return { page, problems };
  }

  async function logIn(page: Page, id: string): Promise<void> {
    await page.goto(`${base}/user/login`);
    if (page.url() === `${base}/user/info`) return; // still logged in
    await page.fill('#id', id);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/info`), page.click('form[action="/user/login"] button[type=submit]')]);
  }

  /** An administrator, and accounts to administer. */
  async function administrator(lang: Lang): Promise<{ id: string }> {
    const id = `${lang}_admin_${Date.now().toString(36)}`.slice(0, 20);
    await register(app, { id, name: lang === 'ko' ? '김민준' : 'Emma Wilson' });
    await createUserModel(db).setAdmin(id, true);
    for (let i = 0; i < 3; i++) await register(app, { id: `${lang}_user_${i}_${Date.now().toString(36)}`.slice(0, 20), name: `Person ${i}` });
    return { id };
  }

  for (const lang of ['ko', 'en'] as const) {
    const t = T[lang];

    describe(`in ${lang === 'ko' ? 'Korean' : 'English'}`, () => {
      let admin: { id: string };
      before(async () => (admin = await administrator(lang)));

      for (const size of ['phone', 'desktop'] as const) {
        it(`at ${SIZES[size].width} px: every account page passes axe, nothing fails to load or logs an error, the header lines up with its card`, async () => {
          const { page, problems } = await browserFor(lang, size);
          await logIn(page, admin.id);
          for (const path of [
            '/user/info',
            '/user/sessions',
            '/user/2fa',
            '/user/passkeys',
            '/user/password',
            '/user/delete',
            '/user/confirm?next=/user/2fa',
            '/admin/users',
          ]) {
            await page.goto(`${base}${path}`);
            expect(await page.getAttribute('html', 'lang'), path).to.equal(lang);
            await expectAccessible(page, `${path} (${lang}, ${size})`);
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            expect(overflow, `${path}: nothing sticks out sideways`).to.equal(0);
            const [header, card] = await Promise.all([page.locator('.site-header').boundingBox(), page.locator('main.card').boundingBox()]);
            expect([Math.round(header!.x), Math.round(header!.width)], `${path}: the header lines up with the card`).to.deep.equal([
              Math.round(card!.x),
              Math.round(card!.width),
            ]);
          }
          expect(problems).to.deep.equal([]);
          if (size === 'desktop') {
            await page.goto(`${base}/user/sessions`);
            await page.screenshot({ path: path.join(SCREENSHOTS, `sessions-${lang}-desktop.png`), fullPage: true });
          }
        });
      }

      it('the administrators’ page at 360 px: no button wraps to more than two lines, no account takes more than 200 px, ids are whole', async () => {
        const { page } = await browserFor(lang, 'phone');
        await logIn(page, admin.id);
        await page.goto(`${base}/admin/users?q=${lang}_`);
        const rows = await page.locator('table.accounts tbody tr').evaluateAll((trs) =>
          trs.map((tr) => ({
            height: tr.getBoundingClientRect().height,
            id: tr.querySelector('th')!.textContent,
            idLines: tr.querySelector('th')!.getClientRects().length,
          })),
        );
        expect(rows.length).to.be.at.least(4);
        for (const row of rows) expect(row.height, `${row.id}'s row`).to.be.at.most(200);
        const buttons = await page.locator('table.accounts button, table.accounts summary').evaluateAll((elements) =>
          elements
            .filter((element) => element.getClientRects().length > 0)
            .map((element) => {
              const style = getComputedStyle(element);
              const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6;
              const height = element.getBoundingClientRect().height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
              return { text: element.textContent.trim(), lines: Math.round(height / lineHeight) };
            }),
        );
        expect(buttons.length).to.be.at.least(4);
        for (const button of buttons) expect(button.lines, button.text).to.be.at.most(2);
        const idLines = await page.locator('table.accounts tbody th').evaluateAll((ths) =>
          ths.map((th) => {
            const range = document.createRange();
            range.selectNodeContents(th);
            return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
          }),
        );
        for (const lines of idLines) expect(lines, 'an id on one line').to.equal(1);
        // The table scrolls sideways inside its card, with a hint that it does.
        expect(await page.isVisible('.scroll-hint')).to.equal(true);
        await page.screenshot({ path: path.join(SCREENSHOTS, `admin-${lang}-phone.png`), fullPage: true });
      });

      it('danger asks once: deleting, removing, locking and ending sessions each open a panel that says what happens, in the danger style', async () => {
        const { page } = await browserFor(lang);
        await logIn(page, admin.id);
        await page.goto(`${base}/admin/users?q=${lang}_user`);
        const summary = page.locator('.danger-zone summary').first();
        // Red, whatever the scheme: the danger colour, not the accent of the harmless buttons.
        const [red, green, blue] = (await summary.evaluate((element) => getComputedStyle(element).color)).match(/\d+/g)!.map(Number);
        expect(red, 'a danger colour').to.be.above(Math.max(green, blue) + 60);
        expect(await page.locator('.danger-panel').first().isVisible()).to.equal(false);
        await summary.click();
        expect(await page.locator('.danger-panel').first().isVisible()).to.equal(true);
        expect(await page.locator('.danger-panel p').first().textContent()).to.match(lang === 'ko' ? /로그인할 수 없/ : /can no longer log in/);
        // The deletion page: the box must be ticked before anything is sent.
        await page.goto(`${base}/user/delete`);
        await page.fill('#password', PASSWORD);
        await page.click('form[action="/user/delete"] button');
        expect(page.url()).to.equal(`${base}/user/delete`);
        expect(await page.locator('input[name="understood"]').evaluate((box) => (box as HTMLInputElement).validity.valueMissing)).to.equal(true);
        expect(await createUserModel(db).findById(admin.id)).to.not.equal(undefined);
      });

      it('times read in the browser’s own zone: "… ago" with the exact time in the title', async () => {
        const { page } = await browserFor(lang);
        await logIn(page, admin.id);
        await page.goto(`${base}/user/sessions`);
        const time = page.locator('li.session.current time').first();
        expect(await time.textContent()).to.match(lang === 'ko' ? /(초|분) 전|지금/ : /(second|minute)s? ago|now/);
        const title = (await time.getAttribute('title'))!;
        expect(title).to.match(lang === 'ko' ? /(오전|오후)/ : /(AM|PM)/);
      });

      it('the recovery codes: copied whole, downloaded as a text file, printed alone; after the language link and Back nothing is a 404 or a cache miss', async () => {
        const id = `${lang}_codes_${Date.now().toString(36)}`.slice(0, 20);
        await register(app, { id });
        const { page, problems } = await browserFor(lang);
        await logIn(page, id);
        await page.goto(`${base}/user/2fa`);
        await page.click('#copy-secret');
        const secret = await page.evaluate(() => navigator.clipboard.readText());
        expect(secret).to.match(/^[A-Z2-7]{32}$/);
        expect(await page.textContent('.secret-line .secret')).to.equal(secret.match(/.{4}/g)!.join(' '));
        await page.fill('#code', TOTP.generate({ secret: Secret.fromBase32(secret) }));
        await Promise.all([page.waitForURL(`${base}/user/2fa`), page.click('form[action="/user/2fa/enable"] button')]);
        // The answer took the GET page's place in the history: its address is /user/2fa.
        const codes = await page.locator('.recovery-code').allTextContents();
        expect(codes).to.have.length(10);
        await page.click('#copy-codes');
        expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(`${codes.join('\n')}\n`);
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-codes')]);
        expect(download.suggestedFilename()).to.equal(t('twoFactor.codesFilename', { id }));
        expect(readFileSync(await download.path(), 'utf8')).to.equal(`${codes.join('\n')}\n`);
        await page.emulateMedia({ media: 'print' });
        expect(await page.isVisible('.site-header')).to.equal(false);
        expect(await page.isVisible('#recovery-codes-list')).to.equal(true);
        expect(await page.isVisible('.print-only')).to.equal(true);
        await page.emulateMedia({ media: 'screen' });
        await page.screenshot({ path: path.join(SCREENSHOTS, `recovery-codes-${lang}-desktop.png`), fullPage: true });

        await Promise.all([page.waitForURL(/\/user\/2fa\?lang=/), page.click('a.lang-switch')]);
        expect(await page.getAttribute('html', 'lang')).to.equal(lang === 'ko' ? 'en' : 'ko');
        await page.goBack();
        expect(page.url()).to.equal(`${base}/user/2fa`);
        expect(await page.textContent('h1')).to.equal(T[lang === 'ko' ? 'en' : 'ko']('twoFactor.title'));
        await page.reload();
        expect(await page.textContent('h1')).to.equal(T[lang === 'ko' ? 'en' : 'ko']('twoFactor.title'));
        expect(problems).to.deep.equal([]);
      });
    });
  }

  it('from the answer to every POST route (read from the router), the language link and then Back lead to a page, never a 404 or a cache miss', async () => {
    const id = `walk_${Date.now().toString(36)}`;
    await register(app, { id });
    await createUserModel(db).setAdmin(id, true);
    const { page } = await browserFor('ko');
    const routes = postRoutes(app)
      .map((route) => route.replace(':id', id))
      .filter((route) => !['/user/logout', '/user/delete'].includes(route));
    expect(routes.length).to.be.at.least(20);
    const seen: string[] = [];
    for (const route of [...routes, '/user/logout']) {
      await logIn(page, id);
      await page.goto(`${base}/user/info`);
      // The site's own form, posted with nothing filled in (or refused): whatever the answer, it is a page.
      const [response] = await Promise.all([
        page.waitForNavigation(),
        page.evaluate((action) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = action;
          const token = document.createElement('input');
          token.type = 'hidden';
          token.name = '_csrf';
          token.value = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')!.content;
          form.append(token);
          document.body.append(form);
          form.submit();
        }, route),
      ]);
      // The scripts' own endpoints (passkey ceremonies) answer JSON, not a page.
      if (response?.headers()['content-type']?.startsWith('application/json')) continue;
      const answered = page.url();
      const link = (await page.getAttribute('a.lang-switch', 'href'))!;
      await Promise.all([page.waitForNavigation(), page.click('a.lang-switch')]);
      expect(await page.title(), `${route}: its language link ${link}`).not.to.include(en('error.title.404'));
      const back = await page.goBack().catch((err: Error) => err);
      expect(back, `${route}: Back`).not.to.be.instanceOf(Error);
      expect(page.url(), `${route}: Back`).not.to.match(/^chrome-error:/);
      expect(await page.title(), `${route}: Back from ${answered}`).to.match(/ · login-page$/);
      expect(await page.title(), `${route}: Back`).not.to.include(ko('error.title.404'));
      seen.push(route);
    }
    expect(seen).to.include.members(['/user/2fa/enable', '/user/passkeys/remove', `/admin/users/${id}/lock`, '/user/confirm', '/user/logout']);
  });
});
