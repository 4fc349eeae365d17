import { existsSync } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { makeSite, PASSWORD, uniqueId } from './helpers/site.js';
import { ko } from './helpers/i18n.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialling out of this machine's closed network.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('in a real browser (headless Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let site: http.Server;
  let base: string;
  const cspViolations: string[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (skipped: no browser at ${CHROMIUM}; npm run setup installs Debian's chromium when run as root)`);
      this.skip();
    }
    const { app } = await makeSite({ ACCESS_TOKEN_TTL: '1s', REFRESH_REUSE_GRACE: '10s' });
    site = http.createServer(app);
    base = `http://127.0.0.1:${await listen(site)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ locale: 'ko-KR' });
    page = await context.newPage();
    page.on('console', (message) => message.text().includes('Content Security Policy') && cspViolations.push(message.text()));
  });

  after(async () => {
    await browser?.close();
    site?.close();
  });

  const authCookies = async () => (await context.cookies()).filter((c) => c.name.endsWith('Token'));
  const id = uniqueId();

  it('registers, logs in and shows the info page with its styles and no CSP violation', async () => {
    await page.goto(`${base}/user/register`);
    await page.fill('#id', id);
    await page.fill('#name', '김민준 <b>');
    await page.fill('#password', PASSWORD);
    await page.fill('#confirmPassword', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/login`), page.click('button[type=submit]')]);
    expect(await page.textContent('.notice')).to.equal(ko('notice.registered'));

    await page.fill('#id', id.toUpperCase());
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/user/info`), page.click('button[type=submit]')]);
    expect(await page.textContent('h1')).to.equal(ko('info.greeting', { name: '김민준 <b>' }));
    const background = await page.$eval('a.button', (link) => getComputedStyle(link).backgroundColor);
    expect(background).to.equal('rgb(26, 86, 196)');
    expect(cspViolations).to.deep.equal([]);
    await page.screenshot({ path: '/tmp/login-page-info.png' });
  });

  it('silently reissues the access cookie once the access token has expired', async () => {
    const before = await authCookies();
    await page.waitForTimeout(1500);
    await page.reload();
    expect(await page.textContent('h1')).to.equal(ko('info.greeting', { name: '김민준 <b>' }));
    const after = await authCookies();
    const value = (cookies: typeof before, name: string) => cookies.find((c) => c.name === name)?.value;
    expect(value(after, 'accessToken')).to.not.equal(value(before, 'accessToken'));
    expect(value(after, 'refreshToken')).to.not.equal(value(before, 'refreshToken'));
    expect(after.every((c) => c.httpOnly && c.sameSite === 'Strict')).to.equal(true);
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
      await attack.close();
      await page.reload();
      expect(await page.textContent('h1')).to.equal(ko('info.greeting', { name: '김민준 <b>' }));
    } finally {
      evil.close();
    }
  });

  it('logs out with the link: cookies gone, and Back does not show the name again', async () => {
    await Promise.all([page.waitForURL(`${base}/user/login`), page.click('a.button')]);
    expect(await page.textContent('.notice')).to.equal(ko('notice.loggedOut'));
    expect(await authCookies()).to.deep.equal([]);
    await page.goBack();
    expect(await page.textContent('body')).not.to.include('김민준');
    expect(await page.textContent('body')).to.include(ko('info.guestText'));
  });
});
