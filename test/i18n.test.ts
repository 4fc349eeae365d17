import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import { createDb } from '../src/config/clients.js';
import { readCatalogue } from '../src/config/locales.js';
import { viewsDir } from '../src/config/paths.js';
import { LANGUAGES, type Lang } from '../src/utils/i18n.js';
import { cookieHeader, loggedInUser, makeSite, PASSWORD, postTo, register, setCookies, uniqueId, type App } from './helpers/site.js';
import { en, ko } from './helpers/i18n.js';
import { testStores } from './helpers/stores.js';

const T = { ko, en };
const htmlLang = (text: string) => /<html lang="(\w+)">/.exec(text)?.[1];
const title = (text: string) => /<title>([^<]*)<\/title>/.exec(text)?.[1];
const heading = (text: string) => /<h1>([^<]*)<\/h1>/.exec(text)?.[1];
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('languages', () => {
  let app: App;
  before(async () => ({ app } = await makeSite()));

  describe('the catalogues', () => {
    const catalogues = Object.fromEntries(LANGUAGES.map((lang) => [lang, readCatalogue(lang)])) as Record<Lang, Record<string, string>>;

    it('ko and en have exactly the same keys, no empty value, and the same placeholders per key', () => {
      expect(Object.keys(catalogues.ko).sort()).to.deep.equal(Object.keys(catalogues.en).sort());
      for (const lang of LANGUAGES) {
        for (const [key, value] of Object.entries(catalogues[lang])) expect(value.trim(), `${lang} ${key}`).not.to.equal('');
      }
      for (const key of Object.keys(catalogues.ko)) expect(placeholders(catalogues.ko[key]), key).to.deep.equal(placeholders(catalogues.en[key]));
    });

    it('English writes "ID" one way (never "Id" or "id" as a word), and both catalogues use one word for each page', () => {
      const spelt = Object.entries(catalogues.en).filter(([, value]) => /\b(Id|id)\b/.test(value.replace(/\{\w+\}/g, '')));
      expect(spelt).to.deep.equal([]);
      // The page and its links say the same: the sessions page, the account page, the passkeys page.
      for (const lang of LANGUAGES) {
        const c = catalogues[lang];
        expect([c['info.sessions'], c['menu.sessions']], lang).to.deep.equal([c['sessions.title'], c['sessions.title']]);
        expect(c['menu.account'], lang).to.equal(c['info.title']);
        expect(c['info.passkeys'], lang).to.equal(c['passkeys.title']);
        expect(c['info.admin'], lang).to.equal(c['admin.title']);
      }
    });

    it('every key a view asks for exists (views are not type-checked)', () => {
      const files = readdirSync(viewsDir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ejs'));
      const keys = files.flatMap((file) => [...readFileSync(path.join(viewsDir, file), 'utf8').matchAll(/\bt\('([\w.]+)'/g)].map((m) => m[1]));
      expect(keys.length).to.be.above(20);
      for (const key of keys) expect(catalogues.ko, key).to.have.property(key);
    });
  });

  describe('choosing the language', () => {
    it('is Korean with no query, cookie or Accept-Language', async () => {
      const res = await request(app).get('/user/login');
      expect(htmlLang(res.text)).to.equal('ko');
      expect(title(res.text)).to.equal(`${ko('login.title')} · login-page`);
    });

    it('follows Accept-Language: the first of ko and en by q-value, else Korean', async () => {
      const cases: Array<[string, Lang]> = [
        ['en-US,en;q=0.9', 'en'],
        ['ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7', 'ko'],
        ['en;q=0.5, ko;q=0.8', 'ko'],
        ['fr-FR, de;q=0.9, en;q=0.3, ko;q=0.2', 'en'],
        ['fr, de', 'ko'],
        ['ko;q=0, en;q=0.1', 'en'],
        ['en, ko', 'en'],
        ['*', 'ko'],
      ];
      for (const [header, lang] of cases) {
        // Twice: the second answer comes from the cache of headers.
        for (let i = 0; i < 2; i++) {
          const res = await request(app).get('/user/login').set('Accept-Language', header);
          expect(htmlLang(res.text), header).to.equal(lang);
          // Only ?lang= sets the cookie: one taken from the header would outvote the browser's languages once they change.
          expect(setCookies(res), header).not.to.have.property('lang');
        }
      }
    });

    it('the lang cookie wins over Accept-Language', async () => {
      const res = await request(app).get('/user/login').set('Cookie', 'lang=en').set('Accept-Language', 'ko');
      expect(htmlLang(res.text)).to.equal('en');
      const back = await request(app).get('/user/login').set('Cookie', 'lang=ko').set('Accept-Language', 'en');
      expect(htmlLang(back.text)).to.equal('ko');
    });

    it('?lang= wins over cookie and header, and sets the lang cookie for a year (Path=/, SameSite=Lax, HttpOnly)', async () => {
      const res = await request(app).get('/user/login?lang=en').set('Cookie', 'lang=ko').set('Accept-Language', 'ko');
      expect(htmlLang(res.text)).to.equal('en');
      const { lang } = setCookies(res);
      expect(lang.value).to.equal('en');
      expect(lang.attributes)
        .to.match(/Max-Age=31536000/)
        .and.match(/Path=\//)
        .and.match(/HttpOnly/)
        .and.match(/SameSite=Lax/);
      expect(lang.attributes).not.to.match(/Secure/);
    });

    it('an unknown lang value is ignored: no cookie, and the cookie or header decides', async () => {
      for (const query of ['?lang=fr', '?lang=', '?lang=EN', '?lang=en&lang=ko']) {
        const res = await request(app).get(`/user/login${query}`).set('Accept-Language', 'en');
        expect(htmlLang(res.text), query).to.equal('en');
        expect(setCookies(res), query).not.to.have.property('lang');
      }
      const withCookie = await request(app).get('/user/login?lang=xx').set('Cookie', 'lang=en');
      expect(htmlLang(withCookie.text)).to.equal('en');
    });

    it('every page links to itself in the other language, keeping the rest of its query', async () => {
      const korean = await request(app).get('/user/login');
      expect(korean.text).to.include('<a class="lang-switch" href="?lang=en" lang="en" hreflang="en">English</a>');
      const english = await request(app).get('/user/register').set('Cookie', 'lang=en');
      expect(english.text).to.include('<a class="lang-switch" href="?lang=ko" lang="ko" hreflang="ko">한국어</a>');
      const withNext = await request(app).get('/user/login?next=%2Fuser%2Finfo&lang=en');
      expect(withNext.text).to.include('href="?next=%2Fuser%2Finfo&amp;lang=ko"');
    });

    it('a page that answers a POST links to the GET page it belongs to, not to the address it was posted to', async () => {
      const user = await loggedInUser(app);
      const wrongCode = await postTo(app, '/user/2fa/enable', `${cookieHeader(user)}; lang=en`).send({ code: '000000' });
      expect(wrongCode.status).to.equal(400);
      expect(wrongCode.text).to.include('<a class="lang-switch" href="/user/2fa?lang=ko" lang="ko" hreflang="ko">');
      const unknownSession = await postTo(app, '/user/sessions/revoke', cookieHeader(user)).send({ sid: 'no-such-session' });
      expect(unknownSession.status).to.equal(404);
      expect(unknownSession.text).to.include('href="/user/sessions?lang=en"');
      // Where the form's page has the post's own address, the link names it; and the page names it for the history.
      const wrongLogin = await postTo(app, '/user/login').send({ id: user.id, password: 'not the password' });
      expect(wrongLogin.text).to.include('<a class="lang-switch" href="/user/login?lang=en"');
      expect(wrongLogin.text).to.include('<meta name="page-of-post" content="/user/login">');
      expect(wrongCode.text).to.include('<meta name="page-of-post" content="/user/2fa">');
    });
  });

  describe('every page in both languages', () => {
    for (const lang of LANGUAGES) {
      const t = T[lang];
      const other = lang === 'ko' ? 'en' : 'ko';

      it(`${lang}: login, register, info (guest and logged in) and 404 say so in <html lang>, title and heading`, async () => {
        const user = await loggedInUser(app, '김민준');
        const pages = [
          { path: '/user/login', cookie: '', title: t('login.title'), heading: t('login.heading') },
          { path: '/user/register', cookie: '', title: t('register.title'), heading: t('register.heading') },
          { path: '/user/info', cookie: '', title: t('info.title'), heading: t('info.guestHeading') },
          {
            path: '/user/info',
            cookie: cookieHeader({ accessToken: user.accessToken }),
            title: t('info.title'),
            heading: t('info.greeting', { name: '김민준' }),
          },
          { path: '/no/such/page', cookie: '', title: t('error.title.404'), heading: t('error.title.404') },
        ];
        for (const page of pages) {
          const res = await request(app)
            .get(page.path)
            .set('Cookie', [`lang=${lang}`, page.cookie].filter(Boolean).join('; '));
          expect(htmlLang(res.text), page.path).to.equal(lang);
          expect(title(res.text), page.path).to.equal(`${page.title} · login-page`);
          expect(heading(res.text), page.path).to.equal(page.heading);
          expect(res.text, page.path).to.include(`href="?lang=${other}"`);
        }
      });

      it(`${lang}: field errors and the JSON msg`, async () => {
        const form = await postTo(app, '/user/register')
          .set('Accept-Language', lang)
          .send({ id: 'ab', name: 'Kim', password: 'short', confirmPassword: 'short' });
        expect(form.status).to.equal(400);
        expect(htmlLang(form.text)).to.equal(lang);
        expect(form.text).to.include(`id="id-error">${t('register.idInvalid')}</p>`);
        expect(form.text).to.include(`id="password-error">${t('register.passwordLength', { min: 8, max: 128 })}</p>`);
        const json = await postTo(app, '/user/register')
          .set('Accept-Language', lang)
          .set('Accept', 'application/json')
          .send({ id: 'ab', name: '', password: PASSWORD, confirmPassword: 'other' });
        expect(json.status).to.equal(400);
        expect(json.body).to.deep.equal({
          success: false,
          msg: t('register.invalid'),
          errors: { id: t('register.idInvalid'), name: t('register.nameLength', { max: 50 }), confirmPassword: t('register.passwordMismatch') },
        });
        const login = await postTo(app, '/user/login', `lang=${lang}`).set('Accept', 'application/json').send({ id: uniqueId(), password: 'not the password' });
        expect(login.body).to.deep.equal({ success: false, msg: t('login.failed'), errors: {} });
      });

      it(`${lang}: the 403, 429, 503 and 500 pages and their JSON msg`, async () => {
        const expectPage = (res: request.Response, status: number, msg: string) => {
          expect(res.status, res.text).to.equal(status);
          expect(htmlLang(res.text)).to.equal(lang);
          expect(res.text).to.include(`role="alert">${msg}</p>`);
        };
        const expectJson = (res: request.Response, status: number, msg: string) => {
          expect(res.status).to.equal(status);
          expect(res.body).to.deep.include({ success: false, msg });
        };
        const both = async (post: () => request.Test, status: number, msg: string) => {
          expectPage(await post().set('Accept-Language', lang), status, msg);
          expectJson(await post().set('Accept-Language', lang).set('Accept', 'application/json'), status, msg);
        };

        await both(() => postTo(app, '/user/login').set('Origin', 'https://evil.example').send({ id: 'someone', password: PASSWORD }), 403, t('csrf.refused'));

        const { app: strict } = await makeSite({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '1' });
        const id = uniqueId();
        await register(strict, { id });
        const ip = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
        await postTo(strict, '/user/login').set('X-Forwarded-For', ip).send({ id, password: 'a wrong password' });
        await both(() => postTo(strict, '/user/login').set('X-Forwarded-For', ip).send({ id, password: PASSWORD }), 429, t('throttle.wait', { minutes: 15 }));

        const { redis, databaseUrl } = await testStores();
        const deadDb = createDb('mysql://nobody:x@127.0.0.1:1/none');
        // The app's account may read information_schema, which has no users table: an SQL error, not an outage.
        const wrongDb = createDb(databaseUrl.replace(/\/[^/]+$/, '/information_schema'));
        try {
          const { app: down } = await makeSite({}, { db: deadDb, redis });
          await both(() => postTo(down, '/user/login').send({ id: uniqueId(), password: PASSWORD }), 503, t('error.unavailable'));
          const { app: broken } = await makeSite({}, { db: wrongDb, redis });
          await both(() => postTo(broken, '/user/login').send({ id: uniqueId(), password: PASSWORD }), 500, t('error.internal'));
        } finally {
          await Promise.all([deadDb.end(), wrongDb.end()]);
        }
      });
    }
  });
});
