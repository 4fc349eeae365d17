import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import type { RowDataPacket } from 'mysql2/promise';
import { Secret, TOTP } from 'otpauth';
import request from 'supertest';
import type { Db } from '../src/config/clients.js';
import { deviceKey } from '../src/utils/device.js';
import { en, ko } from './helpers/i18n.js';
import { linkIn, siteWithMail, startSmtp, type Smtp } from './helpers/mail.js';
import { cookieHeader, PASSWORD, postTo, register, setCookies, uniqueId, type App, type Tokens } from './helpers/site.js';
import { SoftAuthenticator } from './helpers/softAuthenticator.js';

const HOST = 'login.example.com';
const ORIGIN = `http://${HOST}`;
const CHROME_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_ON_IPAD = 'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1';
const OS = {
  Linux: 'X11; Linux x86_64',
  macOS: 'Macintosh; Intel Mac OS X 10_15_7',
  Windows: 'Windows NT 10.0; Win64; x64',
};
const chromium = (os: string, tail = '') => `Mozilla/5.0 (${os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36${tail}`;
/** Twenty devices none of which the account used before (each a browser and system of its own). */
const TWENTY_DEVICES = [
  chromium(OS.Linux),
  chromium(OS.macOS),
  chromium('Linux; Android 14; Pixel 8'),
  chromium('X11; CrOS x86_64 14541.0.0'),
  ...Object.values(OS).map((os) => `Mozilla/5.0 (${os}; rv:133.0) Gecko/20100101 Firefox/133.0`),
  'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0',
  ...[' Edg/131.0.0.0', ' OPR/115.0.0.0', ' Vivaldi/7.0.3495.18'].flatMap((tail) => Object.values(OS).map((os) => chromium(os, tail))),
  chromium('Linux; Android 14; SM-S921B', ' SamsungBrowser/27.0'),
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
];
const secretOnPage = (text: string) => /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(text)?.[1];
const codeOf = (secret: string) => TOTP.generate({ secret: Secret.fromBase32(secret) });
const tokensOf = (res: request.Response): Tokens => ({ accessToken: setCookies(res).accessToken.value, refreshToken: setCookies(res).refreshToken.value });

describe('alerts by mail: a new device, the password, TOTP on and off, a passkey added; at most one of a kind per 10 minutes', function () {
  this.timeout(60_000);
  let smtp: Smtp;
  let app: App;
  let db: Db;
  let stopSender: () => Promise<void>;
  before(async () => {
    smtp = await startSmtp();
    const site = await siteWithMail({ TRUST_PROXY: 'true', HASH_CONCURRENCY: '16', LOGIN_MAX_FAILURES: '1000' }, smtp);
    ({ app, db } = site);
    stopSender = () => site.sender.stop();
  });
  after(async () => {
    await stopSender();
    await smtp.stop();
  });

  /** A registered account whose address is verified (set in MySQL: the email flow has tests of its own), logged in from Chrome on Windows. */
  async function person(verified = true) {
    const id = uniqueId();
    const address = `${id}@mail.example`;
    await register(app, { id });
    await db.query(verified ? 'UPDATE users SET email = ? WHERE id = ?' : 'UPDATE users SET email_pending = ? WHERE id = ?', [address, id]);
    const first = await logIn(id);
    expect(first.status).to.equal(303);
    return { id, address, ...tokensOf(first) };
  }
  const logIn = (id: string, { userAgent = CHROME_ON_WINDOWS, lang = 'ko', ip = '203.0.113.5' } = {}) =>
    postTo(app, '/user/login', `lang=${lang}`).set('User-Agent', userAgent).set('X-Forwarded-For', ip).send({ id, password: PASSWORD });
  const form = (path: string, tokens: Tokens, lang = 'ko') =>
    postTo(app, path, `${cookieHeader(tokens)}; lang=${lang}`)
      .set('User-Agent', CHROME_ON_WINDOWS)
      .set('X-Forwarded-For', '198.51.100.23');
  /** Says what happened, when and from where, and links to the sessions page and to a reset. */
  function expectAlert(mail: ParsedMail, t: typeof en, kind: string, { ip, device }: { ip: string; device: RegExp }) {
    expect(mail.subject).to.equal(t(`email.${kind}.subject` as Parameters<typeof en>[0]));
    expect(mail.text).to.include(ip).and.match(device);
    expect(mail.text).to.match(/\d{4}/); // the time
    linkIn(mail, '/user/sessions');
    linkIn(mail, '/user/forgot');
    expect(mail.html).to.include('/user/sessions').and.include('/user/forgot');
  }
  const settle = () => sleep(1500);

  it('a login from a device the account has not used in 30 days, in the language of the request; the first login and a known device send nothing', async () => {
    const { id, address } = await person();
    await logIn(id);
    await settle();
    expect(smtp.to(address), 'the first login and the same device again: no mail').to.have.length(0);
    expect((await logIn(id, { userAgent: FIREFOX_ON_LINUX, lang: 'en', ip: '192.0.2.44' })).status).to.equal(303);
    const [mail] = await smtp.waitFor(address, 1);
    expectAlert(mail, en, 'alertNewDevice', { ip: '192.0.2.44', device: /Firefox 133 on Linux/ });
    expect(mail.text).to.include(id);
  });

  it('a password change, in Korean', async () => {
    const user = await person();
    const changed = await form('/user/password', user).send({
      currentPassword: PASSWORD,
      password: 'another horse battery',
      confirmPassword: 'another horse battery',
    });
    expect(changed.status, changed.text).to.equal(303);
    const [mail] = await smtp.waitFor(user.address, 1);
    expectAlert(mail, ko, 'alertPasswordChanged', { ip: '198.51.100.23', device: /Windows의 Chrome 131|Chrome 131/ });
  });

  it('TOTP on, then off', async () => {
    const user = await person();
    const secret = secretOnPage((await request(app).get('/user/2fa').set('Cookie', cookieHeader(user))).text)!;
    expect((await form('/user/2fa/enable', user, 'en').send({ code: codeOf(secret) })).status).to.equal(200);
    const [on] = await smtp.waitFor(user.address, 1);
    expectAlert(on, en, 'alertTotpOn', { ip: '198.51.100.23', device: /Chrome 131 on Windows/ });
    // The enrolment ended the other sessions; this one goes on. Turning off needs the password and a code.
    await sleep(30_000 - (Date.now() % 30_000) + 100); // the next time step: a code is accepted once
    expect((await form('/user/2fa/disable', user, 'en').send({ password: PASSWORD, code: codeOf(secret) })).status).to.be.oneOf([200, 303]);
    const [, off] = await smtp.waitFor(user.address, 2);
    expectAlert(off, en, 'alertTotpOff', { ip: '198.51.100.23', device: /Chrome 131 on Windows/ });
  });

  it('a passkey added, naming it', async () => {
    const user = await person();
    const authenticator = new SoftAuthenticator();
    const json = (path: string) => form(path, user, 'en').set('Host', HOST).set('Accept', 'application/json').type('json');
    const options = await json('/user/passkeys/options').send({});
    expect((await json('/user/passkeys').send({ name: 'Work laptop', response: authenticator.create(options.body, ORIGIN) })).status).to.equal(200);
    const [mail] = await smtp.waitFor(user.address, 1);
    expectAlert(mail, en, 'alertPasskeyAdded', { ip: '198.51.100.23', device: /Chrome 131 on Windows/ });
    expect(mail.text).to.include('“Work laptop”');
  });

  it('20 parallel logins from new devices: one mail; another new device within 10 minutes: none; other kinds have their own window', async () => {
    const { id, address } = await person();
    expect(new Set(TWENTY_DEVICES.map(deviceKey)).size).to.equal(20);
    const statuses = await Promise.all(TWENTY_DEVICES.map((userAgent) => logIn(id, { userAgent }).then((res) => res.status)));
    expect(statuses.filter((status) => status === 303)).to.have.length(20);
    await smtp.waitFor(address, 1);
    expect((await logIn(id, { userAgent: CHROME_ON_IPAD })).status).to.equal(303);
    await settle();
    expect(smtp.to(address).map((mail) => mail.subject)).to.deep.equal([ko('email.alertNewDevice.subject')]);
    const [[{ n }]] = await db.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM security_events e JOIN users u ON u.pk = e.user_pk WHERE u.id = ? AND e.kind = ?',
      [id, 'login_new_device'],
    );
    expect(n, 'every new device is still on the activity page').to.equal(21);
    // A password change is another kind: its own mail (from a fresh login: the 20 ended the older sessions).
    const changed = await form('/user/password', tokensOf(await logIn(id))).send({
      currentPassword: PASSWORD,
      password: 'another horse battery',
      confirmPassword: 'another horse battery',
    });
    expect([changed.status, changed.headers.location]).to.deep.equal([303, '/user/info']);
    expect((await smtp.waitFor(address, 2))[1].subject).to.equal(ko('email.alertPasswordChanged.subject'));
  });

  it('no verified address: no mail (an address waiting for its link gets none)', async () => {
    const user = await person(false);
    await logIn(user.id, { userAgent: FIREFOX_ON_LINUX });
    await form('/user/password', user).send({ currentPassword: PASSWORD, password: 'another horse battery', confirmPassword: 'another horse battery' });
    await settle();
    expect(smtp.to(user.address)).to.deep.equal([]);
  });
});
