import http from 'node:http';
import { expect } from 'chai';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { expectAccessible, launchChromium, listen, skipWithoutChromium } from './helpers/browser.js';
import { en, ko } from './helpers/i18n.js';
import { makeSite, PASSWORD, register, uniqueId, type App } from './helpers/site.js';
import type { Db } from '../src/config/clients.js';

/** A captured POST /user/login/passkey as the browser sent it: its body and CSRF header, and the CSRF cookie. */
interface Assertion {
  body: string;
  headers: Record<string, string>;
}

describe('passkeys in a real browser (headless Chromium with a CDP virtual authenticator)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let app: App;
  let db: Db;
  let site: http.Server;
  let base: string;
  const contexts: BrowserContext[] = [];

  before(async function () {
    skipWithoutChromium(this);
    // Many refused assertions come from this one address: the login limits are not under test here.
    ({ app, db } = await makeSite({ LOGIN_MAX_FAILURES: '1000' }));
    site = http.createServer(app);
    // Chromium refuses an IP address as RP ID: the site is reached by the name localhost.
    base = `http://localhost:${await listen(site)}`;
    browser = await launchChromium();
  });

  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    site?.close();
  });

  /** A browser of its own with a platform authenticator (resident keys, user verification), logged in with the form. */
  async function browserWithAuthenticator(id: string): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
    const context = await browser.newContext({ locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(`${base}/user/login`);
    await page.fill('#id', id);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/info`), page.click('form[action="/user/login"] button[type=submit]')]);
    return { page, cdp, authenticatorId };
  }

  async function addPasskey(page: Page, name: string): Promise<void> {
    await page.goto(`${base}/user/passkeys`);
    await page.fill('#passkey-name', name);
    await page.click('#passkey-add button');
    await page.waitForSelector('.notice');
    expect(await page.textContent('.notice')).to.equal(en('passkeys.notice.added'));
  }

  /** Logs out, then asks the authenticator for an assertion on the login page; `deliver` false keeps it from the site. */
  async function passkeyAssertion(page: Page, deliver: boolean): Promise<Assertion> {
    await page.goto(`${base}/user/logout`);
    await page.waitForURL(`${base}/user/login`);
    let captured: Assertion | undefined;
    await page.route('**/user/login/passkey', async (route) => {
      const request = route.request();
      const cookies = await page.context().cookies(base);
      const csrf = cookies.find((cookie) => cookie.name === 'csrf')!;
      captured = {
        body: request.postData()!,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'accept-language': 'en',
          'x-csrf-token': (await request.allHeaders())['x-csrf-token'],
          cookie: `csrf=${csrf.value}`,
        },
      };
      await (deliver ? route.continue() : route.abort());
    });
    expect(await page.isVisible('#passkey-login button')).to.equal(true);
    await page.click('#passkey-login button');
    if (deliver) await page.waitForURL(`${base}/user/info`);
    else await page.waitForSelector('#passkey-login .passkey-error:not([hidden])');
    await page.unroute('**/user/login/passkey');
    return captured!;
  }

  const replay = (assertion: Assertion) => fetch(`${base}/user/login/passkey`, { method: 'POST', headers: assertion.headers, body: assertion.body });
  const passkeyRows = async (id: string) =>
    ((await db.query('SELECT COUNT(*) AS n FROM passkeys p JOIN users u ON u.pk = p.user_pk WHERE u.id = ?', [id])) as unknown as [[{ n: number }]])[0][0].n;

  it('adds a passkey, logs in with it (no id typed, no TOTP), refuses the replayed assertion, removes it; the page passes axe', async () => {
    const id = uniqueId();
    await register(app, { id, name: 'Passkey Tester' });
    const { page, cdp, authenticatorId } = await browserWithAuthenticator(id);

    await page.goto(`${base}/user/info`);
    await Promise.all([page.waitForURL(`${base}/user/passkeys`), page.click('a[href="/user/passkeys"]')]);
    expect(await page.textContent('.aside')).to.equal(en('passkeys.none'));
    expect(await page.isVisible('#passkey-unsupported')).to.equal(false);
    await expectAccessible(page, 'passkeys, none yet (en)');

    await addPasskey(page, 'Laptop');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials.map((credential) => credential.isResidentCredential)).to.deep.equal([true]);
    expect(await page.textContent('li.passkey h2')).to.equal('Laptop');
    expect(await page.textContent('li.passkey dd:last-child')).to.equal(en('passkeys.neverUsed'));
    await expectAccessible(page, 'passkeys, one (en)');

    const assertion = await passkeyAssertion(page, true);
    expect(await page.textContent('h1')).to.equal(en('info.greeting', { name: 'Passkey Tester' }));
    const cookieNames = (await page.context().cookies(base)).map((cookie) => cookie.name);
    expect(cookieNames).to.include.members(['accessToken', 'refreshToken']);

    const replayed = await replay(assertion);
    expect(replayed.status).to.equal(401);
    expect(((await replayed.json()) as { msg: string }).msg).to.equal(en('passkeys.loginFailed'));
    expect(replayed.headers.getSetCookie().filter((cookie) => /^(access|refresh)Token=/.test(cookie))).to.deep.equal([]);

    await page.goto(`${base}/user/passkeys?lang=ko`);
    expect(await page.locator('li.passkey time').count()).to.equal(2); // created and last used
    await expectAccessible(page, 'passkeys, one (ko)');
    // Removing asks once: the button opens a panel that says what is lost, whose button removes it.
    await page.click('li.passkey .danger-zone summary');
    expect(await page.textContent('li.passkey .danger-panel p')).to.equal(ko('passkeys.removeExplain'));
    await page.click('li.passkey form[action="/user/passkeys/remove"] button');
    await page.waitForSelector('.notice');
    expect(await page.textContent('.notice')).to.equal(ko('passkeys.notice.removed'));
    expect(await page.locator('li.passkey').count()).to.equal(0);
    expect(await passkeyRows(id)).to.equal(0);

    // The authenticator still holds the credential; the site no longer knows it.
    await page.goto(`${base}/user/logout`);
    await page.goto(`${base}/user/login?lang=en`);
    await page.click('#passkey-login button');
    await page.waitForSelector('#passkey-login .passkey-error:not([hidden])');
    expect(await page.textContent('#passkey-login .passkey-error')).to.equal(en('passkeys.loginFailed'));
    expect((await page.context().cookies(base)).map((cookie) => cookie.name)).not.to.include('accessToken');
  });

  it('of 20 parallel submissions of one valid assertion exactly one logs in (the challenge is single-use)', async () => {
    const id = uniqueId();
    await register(app, { id });
    const { page } = await browserWithAuthenticator(id);
    await addPasskey(page, 'Phone');
    const assertion = await passkeyAssertion(page, false);

    const answers = await Promise.all(Array.from({ length: 20 }, () => replay(assertion)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).to.deep.equal([200, ...Array<number>(19).fill(401)]);
    const winner = answers.find((answer) => answer.status === 200)!;
    expect(await winner.json()).to.deep.equal({ success: true });
    expect(winner.headers.getSetCookie().map((cookie) => cookie.split('=')[0])).to.include.members(['accessToken', 'refreshToken']);
  });

  it('a locked account’s passkey gets 403 and no cookie', async () => {
    const id = uniqueId();
    await register(app, { id });
    const { page } = await browserWithAuthenticator(id);
    await addPasskey(page, 'Key');
    const assertion = await passkeyAssertion(page, false);
    await db.query('UPDATE users SET locked_at = CURRENT_TIMESTAMP WHERE id = ?', [id]);
    const answer = await replay(assertion);
    expect(answer.status).to.equal(403);
    expect(((await answer.json()) as { msg: string }).msg).to.equal(en('login.locked'));
    expect(answer.headers.getSetCookie().filter((cookie) => /^(access|refresh)Token=/.test(cookie))).to.deep.equal([]);
  });

  it('an assertion without user verification is refused (401, no cookie), even when the client asks the authenticator for less', async () => {
    const id = uniqueId();
    await register(app, { id });
    const { page, cdp, authenticatorId } = await browserWithAuthenticator(id);
    await addPasskey(page, 'Security key');
    // The authenticator no longer verifies its user (presence only).
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    // A modified client: whatever the site asks for, it tells the authenticator that verification is not needed.
    await page.route('**/user/login/passkey/options', async (route) => {
      const options = (await (await route.fetch()).json()) as Record<string, unknown>;
      await route.fulfill({ json: { ...options, userVerification: 'discouraged' } });
    });
    const assertion = await passkeyAssertion(page, false);
    const flags = Buffer.from(
      (JSON.parse(assertion.body) as { response: { response: { authenticatorData: string } } }).response.response.authenticatorData,
      'base64url',
    )[32];
    expect(flags & 0x04, 'user verified flag').to.equal(0);
    const answer = await replay(assertion);
    expect(answer.status).to.equal(401);
    expect(((await answer.json()) as { msg: string }).msg).to.equal(en('passkeys.loginFailed'));
    expect(answer.headers.getSetCookie().filter((cookie) => /^(access|refresh)Token=/.test(cookie))).to.deep.equal([]);
  });

  it('the login page offers a passkey only when the browser has WebAuthn, and the passkeys page says when it has not', async () => {
    const id = uniqueId();
    await register(app, { id });
    const { page } = await browserWithAuthenticator(id);
    await page.addInitScript(() => Object.defineProperty(window, 'PublicKeyCredential', { value: undefined }));
    await page.goto(`${base}/user/passkeys`);
    expect(await page.isVisible('#passkey-unsupported')).to.equal(true);
    expect(await page.isVisible('#passkey-add')).to.equal(false);
    await page.goto(`${base}/user/logout`);
    await page.waitForURL(`${base}/user/login`);
    expect(await page.isVisible('#passkey-login')).to.equal(false);
  });
});
