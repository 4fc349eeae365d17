import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import request from 'supertest';
import { REDACT_PATHS } from '../src/config/logger.js';
import { cookieHeader, expire, getInfo, login, makeSite, PASSWORD, postTo, register, setCookies, uniqueId } from './helpers/site.js';
import { testStores } from './helpers/stores.js';

describe('logs', () => {
  it('one JSON line per request with a request id, auth events, and no password, token or cookie anywhere', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).trim().split('\n')), done()) });
    const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    const { app } = await makeSite({ REFRESH_REUSE_GRACE: '100ms' }, await testStores(), logger);

    const id = uniqueId();
    await register(app, { id });
    await postTo(app, '/user/login').send({ id, password: 'wrong password here' });
    const tokens = await login(app, id);
    const stale = { accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken };
    const rotated = setCookies(await getInfo(app, stale)).refreshToken.value;
    await new Promise((resolve) => setTimeout(resolve, 200));
    await getInfo(app, stale); // reuse after the grace window
    const second = await login(app, id);
    const res = await request(app).get('/user/logout').set('Cookie', cookieHeader(second));

    const entries = lines.map((line) => JSON.parse(line));
    const events = entries.filter((e) => e.event).map((e) => e.event);
    expect(events).to.deep.equal(['register.ok', 'login.failed', 'login.ok', 'refresh', 'refresh.reuse_revoked', 'login.ok', 'logout']);
    // makeSite's own /readyz calls (it waits for the listener) aside.
    const requestLines = entries.filter((e) => e.msg === 'request completed' && e.req.path !== '/readyz');
    expect(requestLines).to.have.length(8);
    expect(requestLines.every((e) => typeof e.req.id === 'string' && e.res.statusCode)).to.equal(true);
    expect(res.headers['x-request-id']).to.equal(requestLines.at(-1).req.id);
    const everything = lines.join('\n');
    for (const secret of [PASSWORD, 'wrong password here', tokens.accessToken, tokens.refreshToken, rotated, second.refreshToken]) {
      expect(everything).not.to.include(secret);
    }
  });

  it('names a failed or throttled id by a keyed tag, never by its text (people type passwords into the id box)', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).trim().split('\n')), done()) });
    const logger = pino({ level: 'info' }, sink);
    const { app } = await makeSite({ LOGIN_MAX_FAILURES: '1' }, await testStores(), logger);
    const typedPassword = `Secret${uniqueId().slice(2)}`;
    await postTo(app, '/user/login').send({ id: typedPassword, password: 'wrong password here' });
    await postTo(app, '/user/login').send({ id: typedPassword.toUpperCase(), password: 'wrong password here' });
    const events = lines.map((line) => JSON.parse(line)).filter((e) => e.event);
    expect(events.map((e) => e.event)).to.deep.equal(['login.failed', 'login.throttled']);
    expect(events[0].idTag).to.match(/^[\w-]{16}$/);
    expect(events[1].idTag).to.equal(events[0].idTag);
    expect(lines.join('\n').toLowerCase()).not.to.include(typedPassword.toLowerCase());
  });

  it('the redaction list removes cookies, authorization, CSRF tokens and set-cookie from any line', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    const headers = { cookie: 'accessToken=SECRET-1', authorization: 'Bearer SECRET-2', 'x-csrf-token': 'SECRET-3' };
    logger.info({ req: { headers }, res: { headers: { 'set-cookie': 'refreshToken=SECRET-4' } }, body: { password: 'SECRET-5', token: 'SECRET-6' } });
    expect(lines.join('')).not.to.match(/SECRET-\d/);
    expect(lines.join('')).to.include('[redacted]');
  });
});
