import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import request from 'supertest';
import { createOutbox } from '../src/models/outbox.js';
import { createMailSeal, createPostOffice } from '../src/services/mail/postOffice.js';
import { en, ko } from './helpers/i18n.js';
import { linkIn, siteWithMail, startSmtp, type Smtp } from './helpers/mail.js';
import { makeSite, PASSWORD, postTo, uniqueId, type App } from './helpers/site.js';

/** A logger whose lines a test reads. */
function capturedLog() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  return { logger, lines };
}

const addressOf = (id: string) => `${id}@mail.example`;

/** Registers an account with an email address, from a page in `lang`. */
function registerWithEmail(app: App, id: string, lang = 'ko', host?: string) {
  const post = postTo(app, '/user/register', `lang=${lang}`);
  return (host ? post.set('Host', host) : post).send({ id, name: 'Mail Tester', password: PASSWORD, confirmPassword: PASSWORD, email: addressOf(id) });
}

describe('mail: an outbox in MySQL, delivered by the sender over SMTP', function () {
  this.timeout(60_000);
  let smtp: Smtp;
  before(async () => (smtp = await startSmtp()));
  after(() => smtp.stop());

  it('registering with an email: the verification mail arrives in the page’s language (ko and en), with text and HTML parts, Message-ID, Auto-Submitted and a link from the site’s origin', async () => {
    const site = await siteWithMail({}, smtp);
    const atPublic = await siteWithMail({ PUBLIC_ORIGIN: 'https://login.example.com' }, smtp);
    try {
      for (const [lang, t] of [
        ['ko', ko],
        ['en', en],
      ] as const) {
        const id = uniqueId();
        const res = await registerWithEmail(site.app, id, lang, 'login.example.test:8080');
        expect([res.status, res.headers.location]).to.deep.equal([303, '/user/login']);
        const [mail] = await smtp.waitFor(addressOf(id));
        expect(mail.subject).to.equal(t('email.verifyAddress.subject'));
        expect(mail.text).to.include(t('email.verifyAddress.intro', { id, site: 'login.example.test:8080' }));
        expect(mail.html).to.be.a('string').and.include(`<html lang="${lang}">`).and.include(t('email.verifyAddress.action'));
        expect(mail.messageId).to.match(/^<[0-9a-f-]{36}@localhost>$/);
        expect(mail.headers.get('auto-submitted')).to.equal('auto-generated');
        expect(mail.headers.get('content-language')).to.equal(lang);
        expect(mail.from?.value).to.deep.equal([{ name: 'login-page', address: 'no-reply@localhost' }]);
        const link = linkIn(mail, '/user/email/verify');
        expect(link.origin).to.equal('http://login.example.test:8080');
        expect(link.searchParams.get('token')).to.match(/^[A-Za-z0-9_-]{43}$/);
        expect(mail.html).to.include(link.href.replace(/&/g, '&amp;'));
      }
      const id = uniqueId();
      expect((await registerWithEmail(atPublic.app, id, 'en', 'evil.example')).status).to.equal(303);
      expect(linkIn((await smtp.waitFor(addressOf(id)))[0], '/user/email/verify').origin).to.equal('https://login.example.com');
    } finally {
      await Promise.all([site.sender.stop(), atPublic.sender.stop()]);
    }
  });

  it('at rest: the outbox row holds no link in the clear (only the token’s hash is stored anywhere), and the payload is cleared once sent', async () => {
    // No sender runs for this site: its mail waits in the outbox.
    const { app, db } = await makeSite();
    const id = uniqueId();
    expect((await registerWithEmail(app, id)).status).to.equal(303);
    const [row] = (await db.query<RowDataPacket[]>("SELECT pk, payload, state FROM mail_outbox WHERE kind = 'verifyAddress' ORDER BY pk DESC LIMIT 1"))[0];
    expect(row.state).to.equal('pending');
    const payload = row.payload as Buffer;
    expect(payload.toString('latin1')).not.to.include(id).and.not.to.include('verify?token=').and.not.to.include(addressOf(id));
    const [[link]] = await db.query<RowDataPacket[]>('SELECT t.token_hash, t.email FROM account_tokens t JOIN users u ON u.pk = t.user_pk WHERE u.id = ?', [
      id,
    ]);
    expect((link.token_hash as Buffer).length).to.equal(32);
    expect(link.email).to.equal(addressOf(id));

    const sender = (await siteWithMail({}, smtp)).sender;
    try {
      const [mail] = await smtp.waitFor(addressOf(id));
      const token = linkIn(mail, '/user/email/verify').searchParams.get('token')!;
      expect((link.token_hash as Buffer).toString('hex')).not.to.include(Buffer.from(token).toString('hex'));
      // The row is marked in the transaction that held it while the mail went.
      const sent = async () => (await db.query<RowDataPacket[]>('SELECT payload, state, done_at FROM mail_outbox WHERE pk = ?', [row.pk]))[0][0];
      for (const deadline = Date.now() + 5000; (await sent()).state === 'pending' && Date.now() < deadline; await sleep(50));
      const done = await sent();
      expect([done.state, done.payload, done.done_at instanceof Date]).to.deep.equal(['sent', null, true]);
    } finally {
      await sender.stop();
    }
  });

  it('a mail is written in the transaction of its change: when that transaction fails after the mail was posted, no mail goes', async () => {
    const site = await siteWithMail({}, smtp);
    const postOffice = createPostOffice({
      db: site.db,
      outbox: createOutbox(site.db),
      mailSeal: createMailSeal(site.config.secrets.totp),
      fromDomain: 'localhost',
      nudge: site.sender.nudge,
    });
    const [kept, lost] = [addressOf(uniqueId()), addressOf(uniqueId())];
    const letter = (to: string) =>
      ({ kind: 'addressRemoved', to, lang: 'en', origin: 'https://login.example.com', link: '/user/email', params: { id: 'kim' } }) as const;
    try {
      await postOffice.transaction((_conn, post) => post(letter(kept)));
      const failed = postOffice.transaction(async (_conn, post) => {
        await post(letter(lost));
        throw new Error('the change failed after its mail was posted');
      });
      expect(
        await failed.then(
          () => 'committed',
          (err: Error) => err.message,
        ),
      ).to.equal('the change failed after its mail was posted');
      await smtp.waitFor(kept);
      await sleep(800);
      expect(smtp.to(lost)).to.deep.equal([]);
    } finally {
      await site.sender.stop();
    }
  });

  it('an enqueue nudges the sender of the same process: with polling once a minute the mail still arrives within moments', async () => {
    const site = await siteWithMail({}, smtp, { pollMs: 60_000 });
    try {
      await sleep(300); // the sender's first look at the outbox is over; now it waits a minute
      const id = uniqueId();
      expect((await registerWithEmail(site.app, id)).status).to.equal(303);
      await smtp.waitFor(addressOf(id), 1, 5000);
    } finally {
      await site.sender.stop();
    }
  });

  it('the SMTP server stopped during a forgot request: the page answers at once, and the mail arrives exactly once after the server comes back — with two site instances (two senders) sharing the outbox', async () => {
    const one = await siteWithMail({}, smtp);
    const two = await siteWithMail({}, smtp);
    try {
      const ids = Array.from({ length: 6 }, () => uniqueId());
      for (const id of ids) expect((await registerWithEmail(one.app, id)).status).to.equal(303);
      const links = await Promise.all(ids.map(async (id) => linkIn((await smtp.waitFor(addressOf(id)))[0], '/user/email/verify')));
      for (const link of links) expect((await request(one.app).get(`${link.pathname}${link.search}`)).status).to.equal(303);

      await smtp.stop();
      // Half the requests to each instance; both senders try, fail and back off while the server is away.
      const answers = await Promise.all(ids.map((id, i) => postTo(i % 2 ? two.app : one.app, '/user/forgot').send({ login: id })));
      expect(answers.map((res) => res.status)).to.deep.equal(Array(6).fill(200));
      await sleep(800);
      const [{ n: tried }] = (
        await one.db.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM mail_outbox WHERE kind = 'resetLink' AND attempts > 0 AND state = 'pending'")
      )[0];
      expect(Number(tried), 'mails tried while the server was away').to.be.at.least(6);

      await smtp.start();
      for (const id of ids) await smtp.waitFor(addressOf(id), 2);
      // Both senders keep polling: no mail comes a second time.
      await sleep(1500);
      for (const id of ids) {
        expect(smtp.to(addressOf(id)).map((mail) => mail.subject)).to.deep.equal([ko('email.verifyAddress.subject'), ko('email.resetLink.subject')]);
      }
    } finally {
      await Promise.all([one.sender.stop(), two.sender.stop()]);
      await smtp.start();
    }
  });

  it('a mail that keeps failing is given up after its retry window, marked failed with its payload gone, and logged without its link', async () => {
    const refusing = await startSmtp({ refuse: true });
    const { logger, lines } = capturedLog();
    const site = await siteWithMail({}, refusing, { retryWindowMs: 1500, logger });
    try {
      const id = uniqueId();
      expect((await registerWithEmail(site.app, id)).status).to.equal(303);
      const [[row]] = await site.db.query<RowDataPacket[]>("SELECT o.pk FROM mail_outbox o WHERE o.kind = 'verifyAddress' ORDER BY o.pk DESC LIMIT 1");
      for (const deadline = Date.now() + 10_000; ; await sleep(100)) {
        const [[now]] = await site.db.query<RowDataPacket[]>('SELECT state, payload, attempts FROM mail_outbox WHERE pk = ?', [row.pk]);
        if (now.state === 'failed') {
          expect(now.payload).to.equal(null);
          expect(Number(now.attempts)).to.be.at.least(2);
          break;
        }
        if (Date.now() > deadline) throw new Error(`still ${now.state} after 10 s`);
      }
      const about = lines.filter((line) => line.includes(`"mail":${row.pk},`));
      expect(about.some((line) => line.includes('mail not sent: trying again later') && line.includes('"responseCode":451'))).to.equal(true);
      expect(about.some((line) => line.includes('mail given up'))).to.equal(true);
      expect(lines.join('\n')).not.to.include('/user/email/verify').and.not.to.include('token=');
      expect(refusing.received).to.deep.equal([]);
    } finally {
      await site.sender.stop();
      await refusing.stop();
    }
  });

  it('without SMTP_URL the sender writes each mail to the log as one line with its links, and marks it sent', async () => {
    const { logger, lines } = capturedLog();
    const site = await siteWithMail({}, undefined, { logger });
    try {
      const id = uniqueId();
      expect((await registerWithEmail(site.app, id, 'en')).status).to.equal(303);
      for (const deadline = Date.now() + 5000; !lines.some((line) => line.includes(addressOf(id))); await sleep(50)) {
        if (Date.now() > deadline) throw new Error('no log line for the mail');
      }
      const line = JSON.parse(lines.find((text) => text.includes(addressOf(id)))!) as { msg: string; mail: { to: string; subject: string; links: string[] } };
      expect(line.msg).to.equal('mail written to the log (SMTP_URL is unset)');
      expect(line.mail.subject).to.equal(en('email.verifyAddress.subject'));
      expect(line.mail.links).to.have.length(1);
      expect(new URL(line.mail.links[0]).pathname).to.equal('/user/email/verify');
      expect(smtp.to(addressOf(id))).to.deep.equal([]);
    } finally {
      await site.sender.stop();
    }
  });
});
