import { randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { expect } from 'chai';
import { makeSite, PASSWORD, postTo, type App } from './helpers/site.js';
import { ko } from './helpers/i18n.js';

describe('request bodies', () => {
  let app: App;
  before(async () => ({ app } = await makeSite()));

  it('a body over 10 kB gets 413, one at the limit does not', async () => {
    const filler = (size: number) => ({ id: 'abcd', password: 'x'.repeat(size) });
    const over = await postTo(app, '/user/login').send(`id=abcd&password=${'x'.repeat(10_241)}`);
    expect(over.status).to.equal(413);
    expect(over.text).to.include(ko('error.tooLarge'));
    const json = await postTo(app, '/user/login').set('Accept', 'application/json').type('json').send(filler(11_000));
    expect(json.status).to.equal(413);
    expect(json.body).to.deep.include({ success: false });
    const under = await postTo(app, '/user/login').send(`id=abcd&password=${'x'.repeat(10_000)}`);
    expect(under.status).to.equal(401);
  });

  it('malformed JSON gets 400 and no stack trace', async () => {
    const res = await postTo(app, '/user/login').type('json').send('{"id": "abcd", "password": ');
    expect(res.status).to.equal(400);
    expect(res.text).not.to.match(/SyntaxError|at JSON\.parse|node_modules/);
  });

  it('a content type other than form or JSON gets 415', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await postTo(app, '/user/login').set('Content-Type', type).send('id=abcd&password=whatever');
      expect(res.status, type).to.equal(415);
    }
  });

  it('a 1 MB password never reaches argon2: refused at the body limit; a 200-character one by the length rule', async () => {
    const big = await postTo(app, '/user/register').send(`id=abcd&password=${'p'.repeat(1_000_000)}`);
    expect(big.status).to.equal(413);
    const long = await postTo(app, '/user/register').send({ id: 'abcdef', name: 'N', password: 'p'.repeat(200), confirmPassword: 'p'.repeat(200) });
    expect(long.status).to.equal(400);
  });

  it('fields that are not strings are input errors, not crashes', async () => {
    const res = await postTo(app, '/user/login')
      .type('json')
      .send({ id: { $ne: 1 }, password: ['a', 'b'] });
    expect(res.status).to.equal(400);
    const reg = await postTo(app, '/user/register').type('json').send({ id: 'abcdef', name: 12, password: PASSWORD, confirmPassword: PASSWORD });
    expect(reg.status).to.equal(400);
  });
});

describe('a storm of malformed requests', function () {
  this.timeout(60_000);

  it('a few hundred odd requests: never a 500, never a stack trace, and the process still answers', async () => {
    const { app } = await makeSite();
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const paths = [
      '/user/login',
      '/user/register',
      '/user/logout',
      '/user/info',
      '/',
      '/%',
      '/user/%E0%A4%A',
      '/static/../package.json',
      `/${'a'.repeat(5000)}`,
      '/user/login?next=%00',
    ];
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
    const types = [
      'application/json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/json; charset=utf-7',
      'application/x-www-form-urlencoded; charset=koi8-r',
      '',
    ];
    const bodies = [
      () => randomBytes(randomInt(1, 2000)),
      () => Buffer.from('{"id":'.repeat(randomInt(1, 500))),
      () => Buffer.from(`id=%ED%A0%80%00%E2%80%AE&password=%FF%FE&name=${'%'.repeat(50)}`),
      () => Buffer.from(JSON.stringify({ id: '한글'.repeat(30), password: '\u{1F600}'.repeat(200), name: '\u0000', _csrf: [1] })),
      () => Buffer.from('a=1&'.repeat(1500)),
      () => Buffer.from('[]'),
      () => Buffer.from('null'),
    ];
    const statuses = new Map<number, number>();
    const send = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const body = bodies[i % bodies.length]();
        const headers: Record<string, string> = { 'content-length': String(body.length), 'x-csrf-token': randomBytes(8).toString('hex') };
        const type = types[randomInt(types.length)];
        if (type) headers['content-type'] = type;
        if (i % 13 === 0) headers.cookie = `accessToken=${randomBytes(300).toString('base64')}; refreshToken=%E0; csrf=${'x'.repeat(4000)}`;
        if (i % 17 === 0) headers.accept = 'application/json';
        const req = http.request({ port, host: '127.0.0.1', method: methods[i % methods.length], path: paths[randomInt(paths.length)], headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
            const text = Buffer.concat(chunks).toString();
            try {
              expect(res.statusCode, text).to.be.below(500);
              expect(text).not.to.match(/\n\s+at |node_modules|SyntaxError|TypeError/);
              resolve();
            } catch (err) {
              reject(err);
            }
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    for (let batch = 0; batch < 30; batch++) await Promise.all(Array.from({ length: 10 }, (_, j) => send(batch * 10 + j)));
    // Raw garbage on the socket, too (an unfinished body is given up on after a second).
    for (const raw of [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX: ' + 'y'.repeat(20_000) + '\r\n\r\n',
      'POST /user/login HTTP/1.1\r\nContent-Length: 5\r\n\r\n',
    ]) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.setTimeout(1000, () => socket.destroy());
      socket.end(raw);
      await once(socket, 'close');
    }
    const alive = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(alive.status).to.equal(200);
    expect([...statuses.values()].reduce((a, b) => a + b)).to.equal(300);
    server.close();
  });
});
