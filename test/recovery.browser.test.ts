import http from 'node:http';
import { expect } from 'chai';
import type { Browser, BrowserContext } from 'playwright-core';
import type { Db } from '../src/config/clients.js';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { linkIn, siteWithMail, startSmtp, type Smtp } from './helpers/mail.js';
import { register, uniqueId, type App } from './helpers/site.js';

const NEW_PASSWORD = 'a brand new passphrase';

describe('forgot → mail → reset → log in, in a real browser (headless Chromium), both languages', function () {
  this.timeout(120_000);
  let browser: Browser;
  let smtp: Smtp;
  let app: App;
  let db: Db;
  let stopSender: () => Promise<void>;
  let site: http.Server;
  let base: string;
  const contexts: BrowserContext[] = [];

  before(async function () {
    skipWithoutChromium(this);
    smtp = await startSmtp();
    const mailing = await siteWithMail({}, smtp);
    ({ app, db } = mailing);
    stopSender = () => mailing.sender.stop();
    site = http.createServer(app);
    base = `http://localhost:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    site?.close();
    await stopSender?.();
    await smtp?.stop();
  });

  for (const [lang, t, locale] of [
    ['ko', ko, 'ko-KR'],
    ['en', en, 'en-US'],
  ] as const) {
    it(`${lang}: the login page's link, the forgot form, the mail's link, the reset form (its errors too), the login with the new password; axe clean`, async () => {
      const id = uniqueId();
      const address = `${id}@mail.example`;
      await register(app, { id });
      await db.query('UPDATE users SET email = ? WHERE id = ?', [address, id]);
      const context = await browser.newContext({ locale });
      contexts.push(context);
      const page = await context.newPage();

      await page.goto(`${base}/user/login`);
      await Promise.all([page.waitForURL(`${base}/user/forgot`), page.click(`a[href="/user/forgot"]`)]);
      expect(await page.getAttribute('html', 'lang')).to.equal(lang);
      expect(await page.textContent('h1')).to.equal(t('forgot.title'));
      await expectAccessible(page, `forgot (${lang})`);
      await page.fill('#login', address.toUpperCase());
      await Promise.all([page.waitForLoadState(), page.click('form[action="/user/forgot"] button')]);
      expect(await page.textContent('h1')).to.equal(t('forgot.sentHeading'));
      await expectAccessible(page, `forgot, sent (${lang})`);

      const [mail] = await smtp.waitFor(address);
      expect(mail.subject).to.equal(t('email.resetLink.subject'));
      const link = linkIn(mail, '/user/reset');
      expect(link.origin).to.equal(base);
      await page.goto(link.href);
      expect(await page.textContent('h1')).to.equal(t('reset.title'));
      await expectAccessible(page, `reset (${lang})`);
      await page.fill('#password', NEW_PASSWORD);
      await page.fill('#confirmPassword', 'not the same passphrase');
      await Promise.all([page.waitForLoadState(), page.click('form[action="/user/reset"] button')]);
      expect(await page.textContent('#confirmPassword-error')).to.equal(t('register.passwordMismatch'));
      expect(await page.evaluate(() => document.activeElement?.id)).to.equal('confirmPassword');
      await expectAccessible(page, `reset, an error (${lang})`);
      await page.fill('#password', NEW_PASSWORD);
      await page.fill('#confirmPassword', NEW_PASSWORD);
      await Promise.all([page.waitForURL(`${base}/user/login`), page.click('form[action="/user/reset"] button')]);
      expect(await page.textContent('.notice')).to.equal(t('reset.done'));
      await expectAccessible(page, `login after the reset (${lang})`);

      await page.fill('#id', id);
      await page.fill('#password', NEW_PASSWORD);
      await Promise.all([page.waitForURL(`${base}/user/info`), page.click('form[action="/user/login"] button[type=submit]')]);
      expect((await smtp.waitFor(address, 2))[1].subject).to.equal(t('email.passwordReset.subject'));
    });
  }
});
