import { expect } from 'chai';
import request from 'supertest';
import type { RowDataPacket } from 'mysql2/promise';
import { getInfo, login, makeSite, PASSWORD, postTo, register, setCookies, uniqueId, type App } from './helpers/site.js';
import type { Db } from '../src/config/clients.js';
import { ko } from './helpers/i18n.js';

const form = (fields: Record<string, string>) => ({ name: 'Tester', password: PASSWORD, confirmPassword: PASSWORD, ...fields });

describe('registration', () => {
  let app: App;
  let db: Db;
  before(async () => ({ app, db } = await makeSite()));

  const post = (fields: Record<string, string>) => postTo(app, '/user/register').send(form(fields));

  it('GET shows a form with id, name, password and confirmPassword', async () => {
    const res = await request(app).get('/user/register');
    expect(res.status).to.equal(200);
    for (const field of ['id', 'name', 'password', 'confirmPassword']) expect(res.text).to.include(`name="${field}"`);
    expect(res.headers['cache-control']).to.equal('no-store');
  });

  it('success redirects (303) to the login page, which shows a one-time notice and fills in the new id', async () => {
    const id = uniqueId();
    const res = await post({ id });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/user/login');
    const notice = setCookies(res).notice;
    expect(notice.attributes)
      .to.match(/HttpOnly/)
      .and.to.match(/SameSite=Strict/);
    const cookie = `notice=${encodeURIComponent(notice.value)}`;
    const page = await request(app).get('/user/login').set('Cookie', cookie);
    expect(page.text).to.include(ko('notice.registered'));
    expect(page.text).to.match(new RegExp(`<input id="id" name="id" type="text" value="${id}"`));
    expect(setCookies(page).notice.value).to.equal('');
    const plain = await request(app).get('/user/login');
    expect(plain.text).not.to.include(ko('notice.registered'));
    expect(plain.text).to.include('<input id="id" name="id" type="text" value=""');
  });

  it('a notice cookie with a forged signature shows nothing', async () => {
    const page = await request(app).get('/user/login').set('Cookie', 'notice=s%3Aregistered.forged');
    expect(page.text).not.to.include(ko('notice.registered'));
  });

  it('invalid input: 400, a message per field, id and name kept, passwords never echoed', async () => {
    const res = await post({ id: 'ab', name: 'Kept Name', password: 'short', confirmPassword: 'short' });
    expect(res.status).to.equal(400);
    expect(res.text).to.include('value="ab"').and.to.include('value="Kept Name"');
    expect(res.text)
      .to.include(ko('register.idInvalid'))
      .and.to.include(ko('register.passwordLength', { min: 8, max: 128 }));
    expect(res.text).not.to.include('value="short"');
  });

  it('rejects a mismatched confirmation, a password equal to the id and a common password', async () => {
    const id = uniqueId();
    const mismatch = await post({ id, confirmPassword: 'something else entirely' });
    expect(mismatch.status).to.equal(400);
    expect(mismatch.text).to.include(ko('register.passwordMismatch'));
    const sameAsId = await post({ id: 'Password_Same1', password: 'password_same1', confirmPassword: 'password_same1' });
    expect(sameAsId.text).to.include(ko('register.passwordSameAsId'));
    const common = await post({ id, password: 'Password1', confirmPassword: 'Password1' });
    expect(common.status).to.equal(400);
    expect(common.text).to.include(ko('register.passwordCommon'));
  });

  it('names: 1 to 50 characters after trimming, no control characters', async () => {
    expect((await post({ id: uniqueId(), name: '   ' })).status).to.equal(400);
    expect((await post({ id: uniqueId(), name: 'x'.repeat(51) })).status).to.equal(400);
    expect((await post({ id: uniqueId(), name: 'bad\u0007bell' })).status).to.equal(400);
    expect((await post({ id: uniqueId(), name: '가'.repeat(50) })).status).to.equal(303);
  });

  it('a taken id in another case gets 409 with the form again', async () => {
    const id = uniqueId();
    await register(app, { id });
    const res = await post({ id: id.toUpperCase(), name: 'Second' });
    expect(res.status).to.equal(409);
    expect(res.text).to.include(ko('register.idTaken')).and.to.include('value="Second"');
  });

  it('a name must show something: invisible fillers, zero-width, format and bidi characters alone are refused', async () => {
    for (const invisible of ['\u3164', '\u115F', '\u200B', '\u00AD', '\u2060', '\u200E', '\u3164 \u200B\u3164']) {
      const res = await post({ id: uniqueId(), name: invisible });
      expect(res.status, JSON.stringify(invisible)).to.equal(400);
    }
    // Format characters are refused inside a name too; the joiners that emoji and some scripts need are not.
    for (const hidden of ['Kim\u200Bmin', 'admin\u200D', '\u200Cadmin', 'Kim\u2028min'])
      expect((await post({ id: uniqueId(), name: hidden })).status, JSON.stringify(hidden)).to.equal(400);
    expect((await post({ id: uniqueId(), name: '👨\u200D👩\u200D👧 Kim' })).status).to.equal(303);
  });

  it('a Korean name is stored and shown as entered', async () => {
    const id = uniqueId();
    await register(app, { id, name: '  홍길동 ' });
    const page = await getInfo(app, await login(app, id));
    expect(page.text).to.include('홍길동님');
  });

  it('a name with <script> is shown escaped', async () => {
    const id = uniqueId();
    const name = '<script>alert(1)</script>';
    await register(app, { id, name });
    const page = await getInfo(app, await login(app, id));
    expect(page.text).to.include('&lt;script&gt;alert(1)&lt;/script&gt;님');
    expect(page.text).not.to.include('<script>alert(1)');
  });

  it('stores an argon2id hash (19 MiB, 2 iterations, 1 lane), never the password', async () => {
    const id = uniqueId();
    await register(app, { id });
    const [rows] = await db.query<RowDataPacket[]>('SELECT * FROM users WHERE id = ?', [id]);
    expect(rows[0].password_hash).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(JSON.stringify(rows)).not.to.include(PASSWORD);
    expect(rows[0].is_admin).to.equal(0);
    expect(rows[0].created_at).to.be.instanceOf(Date);
  });

  it('answers JSON clients with JSON', async () => {
    const ok = await post({ id: uniqueId() }).set('Accept', 'application/json');
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal({ success: true });
    const bad = await post({ id: '!' }).set('Accept', 'application/json');
    expect(bad.status).to.equal(400);
    expect(bad.body.success).to.equal(false);
    expect(bad.body.errors).to.have.property('id');
  });

  it('a logged-in visitor is sent from the register page to the info page', async () => {
    const id = uniqueId();
    await register(app, { id });
    const tokens = await login(app, id);
    const res = await request(app).get('/user/register').set('Cookie', `accessToken=${tokens.accessToken}`);
    expect(res.status).to.equal(302);
    expect(res.headers.location).to.equal('/user/info');
  });
});
