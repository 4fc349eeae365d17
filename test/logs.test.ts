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
    const requestLines = entries.filter((e) => e.msg === 'request completed');
    expect(requestLines).to.have.length(8);
    expect(requestLines.every((e) => typeof e.req.id === 'string' && e.res.statusCode)).to.equal(true);
    expect(res.headers['x-request-id']).to.equal(requestLines.at(-1).req.id);
    const everything = lines.join('\n');
    for (const secret of [PASSWORD, 'wrong password here', tokens.accessToken, tokens.refreshToken, rotated, second.refreshToken]) {
      expect(everything).not.to.include(secret);
    }
  });
});
