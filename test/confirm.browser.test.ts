import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { makeSite, PASSWORD, register, uniqueId, type App } from './helpers/site.js';

const STEP_UP_MS = 4000;

describe("confirming it's you in a real browser (headless Chromium)", function () {
  this.timeout(120_000);
  let browser: Browser;
  let app: App;
  let site: http.Server;
  let base: string;
  const contexts: BrowserContext[] = [];

  before(async function () {
    skipWithoutChromium(this);
    ({ app } = await makeSite({ STEP_UP_TTL: `${STEP_UP_MS}ms`, LOGIN_MAX_FAILURES: '1000' }));
    site = http.createServer(app);
    // Passkeys need a host name, not an IP address, as RP ID.
    base = `http://localhost:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    site?.close();
  });

  /** A browser of its own, logged in with the form; `passkeys` adds a platform authenticator (user verification). */
  async function loggedIn(id: string, { locale = 'ko-KR', passkeys = false } = {}): Promise<Page> {
    const context = await browser.newContext({ locale });
    contexts.push(context);
    const page = await context.newPage();
    if (passkeys) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable', { enableUI: false });
      const options = {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      };
      await cdp.send('WebAuthn.addVirtualAuthenticator', { options } as never);
    }
    await page.goto(`${base}/user/login`);
    await page.fill('#id', id);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/info`), page.click('form[action="/user/login"] button[type=submit]')]);
    return page;
  }

  it('password: an unconfirmed session that tries to turn TOTP on is sent to confirm, comes back, and then can (Korean); the English page shows a wrong password', async () => {
    const id = uniqueId();
    await register(app, { id });
    const page = await loggedIn(id);
    await page.goto(`${base}/user/2fa`);
    const secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    await sleep(STEP_UP_MS + 300);

    await page.fill('#code', TOTP.generate({ secret: Secret.fromBase32(secret) }));
    await Promise.all([page.waitForURL(`${base}/user/confirm?next=/user/2fa`), page.click('form[action="/user/2fa/enable"] button')]);
    expect(await page.textContent('h1')).to.equal(ko('confirm.title'));
    expect(await page.isVisible('#passkey-confirm')).to.equal(false);
    await expectAccessible(page, 'confirm (ko)');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/2fa`), page.click('form[action="/user/confirm"] button')]);
    // The same secret is still offered to this session: the code now turns TOTP on.
    expect((await page.textContent('#totp-secret'))!.replace(/\s/g, '')).to.equal(secret);
    await page.fill('#code', TOTP.generate({ secret: Secret.fromBase32(secret) }));
    await Promise.all([page.waitForURL(`${base}/user/2fa/enable`), page.click('form[action="/user/2fa/enable"] button')]);
    expect(await page.locator('.recovery-code').count()).to.equal(10);

    await page.goto(`${base}/user/confirm?next=/user/sessions&lang=en`);
    await page.fill('#password', 'not my password');
    await page.fill('#code', '000000');
    await page.click('form[action="/user/confirm"] button');
    await page.waitForSelector('#password-error');
    expect(await page.textContent('#password-error')).to.equal(en('confirm.wrongPassword'));
    expect(await page.getAttribute('input[name="next"]', 'value')).to.equal('/user/sessions');
    await expectAccessible(page, 'confirm, wrong password (en)');
  });

  it('passkey: adding one from an unconfirmed session leads to the confirm page, where the passkey confirms it (English), and back', async () => {
    const id = uniqueId();
    await register(app, { id });
    const page = await loggedIn(id, { locale: 'en-US', passkeys: true });
    await page.goto(`${base}/user/passkeys`);
    await page.fill('#passkey-name', 'Laptop');
    await page.click('#passkey-add button');
    await page.waitForSelector('.notice');
    await sleep(STEP_UP_MS + 300);

    await page.click('li.passkey details.rename summary');
    await page.fill('li.passkey input[name="name"]', 'Work laptop');
    await Promise.all([page.waitForURL(`${base}/user/confirm?next=/user/passkeys`), page.click('li.passkey details.rename button')]);
    expect(await page.isVisible('#passkey-confirm button')).to.equal(true);
    await expectAccessible(page, 'confirm with a passkey (en)');
    await Promise.all([page.waitForURL(`${base}/user/passkeys`), page.click('#passkey-confirm button')]);
    await page.click('li.passkey details.rename summary');
    await page.fill('li.passkey input[name="name"]', 'Work laptop');
    await Promise.all([page.waitForURL(`${base}/user/passkeys`), page.click('li.passkey details.rename button')]);
    expect(await page.textContent('.notice')).to.equal(en('passkeys.notice.renamed'));
    expect(await page.textContent('li.passkey h2')).to.equal('Work laptop');

    // A script's call from an unconfirmed page is sent to confirm too (403 with stepUp).
    await sleep(STEP_UP_MS + 300);
    await page.fill('#passkey-name', 'Second');
    await Promise.all([page.waitForURL(`${base}/user/confirm?next=%2Fuser%2Fpasskeys`), page.click('#passkey-add button')]);
  });
});
