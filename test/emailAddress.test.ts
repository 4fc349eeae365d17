import { expect } from 'chai';
import type { RowDataPacket } from 'mysql2/promise';
import request from 'supertest';
import { createUserModel } from '../src/models/user.js';
import { en, ko } from './helpers/i18n.js';
import { linkIn, siteWithMail, startSmtp, type Smtp } from './helpers/mail.js';
import { cookieHeader, loggedInUser, PASSWORD, postTo, setCookies, uniqueId, type App, type Tokens } from './helpers/site.js';

const addressOf = (id: string, tag = '') => `${id}${tag}@mail.example`;

describe('the email address: optional, verified by a link, unique among verified addresses', function () {
  this.timeout(60_000);
  let smtp: Smtp;
  let app: App;
  let users: ReturnType<typeof createUserModel>;
  let db: Awaited<ReturnType<typeof siteWithMail>>['db'];
  let stopSender: () => Promise<void>;
  before(async () => {
    smtp = await startSmtp();
    const site = await siteWithMail({ HASH_CONCURRENCY: '8' }, smtp);
    ({ app, db } = site);
    users = createUserModel(db);
    stopSender = () => site.sender.stop();
  });
  after(async () => {
    await stopSender();
    await smtp.stop();
  });

  const propose = (user: Tokens, email: string, lang = 'ko') => postTo(app, '/user/email', `${cookieHeader(user)}; lang=${lang}`).send({ email });
  const open = (link: URL, user?: Tokens) =>
    request(app)
      .get(`${link.pathname}${link.search}`)
      .set('Cookie', user ? cookieHeader(user) : '');
  /** The nth mail (from 1) that arrived at `address`. */
  const nthMail = async (address: string, n: number) => (await smtp.waitFor(address, n))[n - 1];
  const verifyLinkOf = async (address: string, n = 1) => linkIn(await nthMail(address, n), '/user/email/verify');

  /** A logged-in person whose address `address` is verified. */
  async function withVerified(address: string) {
    const user = await loggedInUser(app);
    expect((await propose(user, address)).status).to.equal(303);
    expect((await open(await verifyLinkOf(address))).status).to.equal(303);
    return user;
  }

  it('a link verifies its address once; a later link voids the earlier; the page shows the address and whether it is verified', async () => {
    const user = await loggedInUser(app);
    const address = addressOf(user.id);
    const first = await propose(user, address);
    expect([first.status, first.headers.location]).to.deep.equal([303, '/user/email']);
    expect(
      (
        await request(app)
          .get('/user/email')
          .set('Cookie', `${cookieHeader(user)}; notice=${encodeURIComponent(setCookies(first).notice.value)}`)
      ).text,
    )
      .to.include(ko('emailPage.notice.sent'))
      .and.include(`<dd id="email-address">${address}</dd>`)
      .and.include(ko('emailPage.unverified'));
    expect(await users.findById(user.id)).to.deep.include({ email: address, emailVerified: false, pendingEmail: null });
    expect((await propose(user, address.toUpperCase())).status).to.equal(303);
    const [earlier, later] = [await verifyLinkOf(address, 1), await verifyLinkOf(address, 2)];

    const replaced = await open(earlier);
    expect(replaced.status).to.equal(400);
    expect(replaced.text).to.include(ko('emailVerify.invalid')).and.include('href="/user/email"');
    const verified = await open(later, user);
    expect([verified.status, verified.headers.location]).to.deep.equal([303, '/user/info']);
    expect(await users.findById(user.id)).to.deep.include({ email: address, emailVerified: true });
    expect((await open(later)).status, 'used').to.equal(400);
    const page = await request(app).get('/user/email?lang=en').set('Cookie', cookieHeader(user));
    expect(page.text).to.include(`<dd id="email-address">${address}</dd>`).and.include(en('emailPage.verified'));
  });

  it('a link is void after 24 hours (its stored expiry moved back), and logged out it leads to the login page', async () => {
    const user = await loggedInUser(app);
    const address = addressOf(user.id);
    await propose(user, address);
    const link = await verifyLinkOf(address);
    const [[{ hours }]] = await db.query<RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MINUTE, NOW(3), t.expires_at) / 60 AS hours FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ?',
      [user.id],
    );
    expect(Number(hours)).to.be.within(23.9, 24);
    await db.query('UPDATE account_tokens t JOIN users u ON u.pk = t.user_pk SET t.expires_at = NOW(3) - INTERVAL 1 SECOND WHERE u.id = ?', [user.id]);
    expect((await open(link)).status).to.equal(400);
    expect((await users.findById(user.id))!.emailVerified).to.equal(false);
    await db.query('UPDATE account_tokens t JOIN users u ON u.pk = t.user_pk SET t.expires_at = NOW(3) + INTERVAL 1 HOUR WHERE u.id = ?', [user.id]);
    const loggedOut = await open(link);
    expect([loggedOut.status, loggedOut.headers.location]).to.deep.equal([303, '/user/login']);
  });

  it('a change: the old verified address stays in use until the new one is verified, and is told; a removal is told to it too', async () => {
    const old = addressOf(uniqueId());
    const user = await withVerified(old);
    const fresh = addressOf(user.id, '.new');
    expect((await propose(user, fresh, 'en')).status).to.equal(303);
    const told = await nthMail(old, 2);
    expect(told.subject).to.equal(en('email.addressChanging.subject'));
    expect(told.text).to.include(fresh);
    expect(await users.findById(user.id)).to.deep.include({ email: old, emailVerified: true, pendingEmail: fresh });
    const page = await request(app).get('/user/email').set('Cookie', cookieHeader(user));
    expect(page.text).to.include(`<dd id="email-address">${old}</dd>`).and.include(`<dd id="email-pending">${fresh}<br>`);

    expect((await open(await verifyLinkOf(fresh))).status).to.equal(303);
    expect(await users.findById(user.id)).to.deep.include({ email: fresh, emailVerified: true, pendingEmail: null });

    const removed = await postTo(app, '/user/email/remove', cookieHeader(user)).send({});
    expect([removed.status, removed.headers.location]).to.deep.equal([303, '/user/email']);
    expect((await nthMail(fresh, 2)).subject).to.equal(ko('email.addressRemoved.subject'));
    expect(await users.findById(user.id)).to.deep.include({ email: null, emailVerified: false, pendingEmail: null });
  });

  it('an address another account verified (in any case): the same answer, no link, and the mail to it says it belongs to an account and links to /user/forgot', async () => {
    const taken = addressOf(uniqueId());
    await withVerified(taken);
    const other = await loggedInUser(app);
    const unrelated = await loggedInUser(app);
    const answers = [await propose(other, taken.toUpperCase()), await propose(unrelated, addressOf(unrelated.id))];
    const seen = answers.map((res) => [res.status, res.headers.location, setCookies(res).notice?.value.split('.')[0]]);
    expect(seen[0]).to.deep.equal(seen[1]);
    const mail = await nthMail(taken, 2);
    expect(mail.subject).to.equal(ko('email.addressTaken.subject'));
    expect(linkIn(mail, '/user/forgot').search).to.equal('');
    expect(mail.text).not.to.include(other.id);
    const [[{ links }]] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS links FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ?', [
      other.id,
    ]);
    expect(Number(links)).to.equal(0);
    // At registration too.
    const id = uniqueId();
    const registered = await postTo(app, '/user/register').send({ id, name: 'Late', password: PASSWORD, confirmPassword: PASSWORD, email: taken });
    expect([registered.status, registered.headers.location]).to.deep.equal([303, '/user/login']);
    expect((await nthMail(taken, 3)).subject).to.equal(ko('email.addressTaken.subject'));
    expect(await users.findById(id)).to.deep.include({ email: taken, emailVerified: false });
  });

  it('two accounts waiting for one address: of their links opened at once, one verifies and the other is refused (the unique index decides)', async () => {
    const address = addressOf(uniqueId());
    const [a, b] = [await loggedInUser(app), await loggedInUser(app)];
    await propose(a, address);
    await propose(b, address);
    const links = [await verifyLinkOf(address, 1), await verifyLinkOf(address, 2)];
    const answers = await Promise.all(links.map((link) => open(link)));
    expect(answers.map((res) => res.status).sort()).to.deep.equal([303, 400]);
    expect(answers.find((res) => res.status === 400)!.text).to.include(ko('emailVerify.taken'));
    const verified = [await users.findById(a.id), await users.findById(b.id)].filter((account) => account!.emailVerified);
    expect(verified).to.have.length(1);
  });

  it('the input rule: at most 254 characters, one @, a dot in the domain; stored in lower case; at registration it is optional', async () => {
    const user = await loggedInUser(app);
    for (const bad of ['no-at-sign', 'a@localhost', 'a@@b.example', 'a@b@c.example', 'a b@c.example', 'a@b..example', '.@b.', `${'x'.repeat(250)}@b.example`]) {
      const res = await propose(user, bad);
      expect(res.status, bad).to.equal(400);
      expect(res.text, bad)
        .to.include(`id="email-error">${ko('field.email.invalid')}</p>`)
        .and.match(/<input id="email"[^>]*aria-invalid="true"[^>]*autofocus/);
    }
    expect((await propose(user, '')).text).to.include(ko('field.email.required'));
    expect((await propose(user, ' Kim.Lee@Example.COM ')).status).to.equal(303);
    expect((await users.findById(user.id))!.email).to.equal('kim.lee@example.com');

    const id = uniqueId();
    const invalid = await postTo(app, '/user/register').send({ id, name: 'Kim', password: PASSWORD, confirmPassword: PASSWORD, email: 'not an address' });
    expect(invalid.status).to.equal(400);
    expect(invalid.text)
      .to.include(`id="email-error">${ko('field.email.invalid')}</p>`)
      .and.include('value="not an address"');
    const page = await request(app).get('/user/register');
    expect(page.text).to.match(
      /<input id="email" name="email" type="email" value="" autocomplete="email"[^>]*aria-describedby="email-hint"(?![^>]*required)[^>]*>/,
    );
    const without = await postTo(app, '/user/register').send({ id, name: 'Kim', password: PASSWORD, confirmPassword: PASSWORD });
    expect(without.status).to.equal(303);
    expect(await users.findById(id)).to.deep.include({ email: null, emailVerified: false });
  });

  it('links go out at most 5 times an hour per account (the site is no way to flood a mailbox): then 429', async () => {
    const user = await loggedInUser(app);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await propose(user, addressOf(user.id, `.${i}`))).status);
    expect(statuses).to.deep.equal([303, 303, 303, 303, 303, 429]);
    expect(smtp.to(addressOf(user.id, '.5'))).to.deep.equal([]);
  });
});
