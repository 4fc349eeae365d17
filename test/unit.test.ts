import { expect } from 'chai';
import { availableParallelism } from 'node:os';
import jwt from 'jsonwebtoken';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { parseDuration } from '../src/utils/duration.js';
import type { Request } from 'express';
import { clientNetwork, safeNextPath } from '../src/utils/http.js';
import { checkRegistration, codePoints, normalisedEmail } from '../src/utils/inputRules.js';
import { compose } from '../src/services/mail/compose.js';
import { createMailSeal } from '../src/services/mail/postOffice.js';
import { createJwtUtil } from '../src/utils/jwt.js';
import { createSecondFactorKeys } from '../src/utils/secondFactor.js';
import { SECRETS } from './helpers/site.js';

describe('configuration', () => {
  it("has the contract's defaults", () => {
    const config = loadConfig({});
    expect(config).to.include({ port: 3000, isProduction: false, accessTtlMs: 600_000, refreshTtlMs: 14 * 86_400_000, maxSessionsPerUser: 10 });
    expect(config.redisUrl).to.equal('redis://127.0.0.1:6379/0');
    expect(config.warnings).to.have.length(4);
  });

  it('refuses to start in production without real, distinct secrets', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /ACCESS_TOKEN_SECRET must be set/);
    const same = 'x'.repeat(40);
    expect(() => loadConfig({ NODE_ENV: 'production', ACCESS_TOKEN_SECRET: same, REFRESH_TOKEN_SECRET: same, COOKIE_SECRET: 'y'.repeat(40) })).to.throw(
      /must all differ/,
    );
    expect(loadConfig({ NODE_ENV: 'production', ...SECRETS }).isProduction).to.equal(true);
  });

  it('lists every malformed value at once', () => {
    try {
      loadConfig({ PORT: 'eighty', ACCESS_TOKEN_TTL: '10 minutes', MAX_SESSIONS_PER_USER: '0', LOG_LEVEL: 'loud' });
      expect.fail('should throw');
    } catch (err) {
      expect((err as ConfigError).problems).to.have.length(4);
    }
  });

  it('mail: SMTP_URL (smtp:// or smtps://, optional), MAIL_FROM, RESET_TOKEN_TTL (30m), RESET_MAX_PER_IP (10); production warns without SMTP_URL or PUBLIC_ORIGIN', () => {
    const config = loadConfig({});
    expect(config.mail).to.deep.equal({ smtpUrl: undefined, from: 'login-page <no-reply@localhost>', fromDomain: 'localhost' });
    expect(config).to.include({ resetTokenTtlMs: 1_800_000, resetMaxPerIp: 10 });
    const set = loadConfig({
      SMTP_URL: 'smtps://u:p@mail.example.com:465',
      MAIL_FROM: 'Login <login@example.com>',
      RESET_TOKEN_TTL: '1h',
      RESET_MAX_PER_IP: '3',
    });
    expect(set.mail).to.deep.equal({ smtpUrl: 'smtps://u:p@mail.example.com:465', from: 'Login <login@example.com>', fromDomain: 'example.com' });
    expect(set).to.include({ resetTokenTtlMs: 3_600_000, resetMaxPerIp: 3 });
    try {
      loadConfig({ SMTP_URL: 'http://mail.example.com', MAIL_FROM: 'nobody', RESET_TOKEN_TTL: '30 minutes', RESET_MAX_PER_IP: '0' });
      expect.fail('should throw');
    } catch (err) {
      expect((err as ConfigError).problems).to.have.length(4);
    }
    const production = loadConfig({ NODE_ENV: 'production', ...SECRETS });
    expect(production.warnings.join('\n'))
      .to.match(/SMTP_URL is not set/)
      .and.match(/PUBLIC_ORIGIN is not set/);
    expect(loadConfig({ NODE_ENV: 'production', ...SECRETS, SMTP_URL: 'smtp://mail:25', PUBLIC_ORIGIN: 'https://login.example.com' }).warnings).to.deep.equal(
      [],
    );
  });

  it('takes REDIS_CLUSTER_NODES as host:port seeds, and refuses anything else', () => {
    expect(loadConfig({}).redisClusterNodes).to.equal(undefined);
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' }).redisClusterNodes).to.deep.equal(['10.0.0.1:7000', 'redis-b:7001']);
    for (const bad of ['10.0.0.1', 'redis://a:7000', 'a:7000,,b:7001', 'a:70000']) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: bad }), bad).to.throw(ConfigError, /REDIS_CLUSTER_NODES must be/);
    }
  });

  it('REDIS_KEY_PREFIX: lp: by default, a short name of key characters', () => {
    expect(loadConfig({}).redisKeyPrefix).to.equal('lp:');
    expect(loadConfig({ REDIS_KEY_PREFIX: 'lp:c0ffee00:' }).redisKeyPrefix).to.equal('lp:c0ffee00:');
    for (const bad of ['a b', 'x'.repeat(65), '{tag}'])
      expect(() => loadConfig({ REDIS_KEY_PREFIX: bad }), bad).to.throw(ConfigError, /REDIS_KEY_PREFIX must be/);
  });

  it('STEP_UP_TTL: 10 minutes by default, any duration above 0', () => {
    expect(loadConfig({}).stepUpMs).to.equal(600_000);
    expect(loadConfig({ STEP_UP_TTL: '1500ms' }).stepUpMs).to.equal(1500);
    expect(() => loadConfig({ STEP_UP_TTL: '0s' })).to.throw(ConfigError, /STEP_UP_TTL must be longer than 0/);
  });

  it('HASH_CONCURRENCY: 1 by default, a whole number from 1 to 64', () => {
    expect(loadConfig({}).hashConcurrency).to.equal(1);
    expect(loadConfig({ HASH_CONCURRENCY: '64' }).hashConcurrency).to.equal(64);
    for (const bad of ['0', '65', '2.5', 'many'])
      expect(() => loadConfig({ HASH_CONCURRENCY: bad }), bad).to.throw(ConfigError, /HASH_CONCURRENCY must be a whole number from 1 to 64/);
  });

  it('WEB_CONCURRENCY: the number of CPUs in production, 1 otherwise', () => {
    expect(loadConfig({}).webConcurrency).to.equal(1);
    expect(loadConfig({ NODE_ENV: 'production', ...SECRETS }).webConcurrency).to.equal(availableParallelism());
    expect(loadConfig({ NODE_ENV: 'production', ...SECRETS, WEB_CONCURRENCY: '3' }).webConcurrency).to.equal(3);
    expect(() => loadConfig({ WEB_CONCURRENCY: '0' })).to.throw(ConfigError, /WEB_CONCURRENCY must be a whole number/);
  });

  it('parses durations', () => {
    expect(parseDuration('2s')).to.equal(2000);
    expect(parseDuration('15m')).to.equal(900_000);
    expect(parseDuration('12h')).to.equal(43_200_000);
    expect(parseDuration('14d')).to.equal(1_209_600_000);
    expect(parseDuration('5')).to.equal(undefined);
    expect(parseDuration('-5s')).to.equal(undefined);
  });
});

describe('jwt utility', () => {
  const util = createJwtUtil({ access: SECRETS.ACCESS_TOKEN_SECRET, refresh: SECRETS.REFRESH_TOKEN_SECRET }, 60_000);

  it('signs HS256 tokens that verify as valid, with the claims the contract names', () => {
    const token = util.accessSign({ sub: 'alice', name: 'Alice', sid: 's1' });
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).to.include({ alg: 'HS256' });
    const result = util.accessVerify(token);
    expect(result.status).to.equal('valid');
    expect(result.status !== 'invalid' && result.claims).to.include({ sub: 'alice', name: 'Alice', sid: 's1' });
  });

  it('tells an authentic expired token from a forged one', () => {
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = jwt.sign({ sub: 'a', name: 'A', sid: 's', iat: past - 10, exp: past }, SECRETS.ACCESS_TOKEN_SECRET);
    expect(util.accessVerify(expired).status).to.equal('expired');
    const forged = jwt.sign({ sub: 'a', name: 'A', sid: 's', iat: past - 10, exp: past }, 'another-secret-another-secret-1234');
    expect(util.accessVerify(forged)).to.deep.equal({ status: 'invalid' });
  });

  it('keeps access and refresh tokens apart', () => {
    const refresh = util.refreshSign({ sub: 'a', sid: 's', jti: 'j' }, Date.now() + 60_000);
    expect(util.refreshVerify(refresh).status).to.equal('valid');
    expect(util.accessVerify(refresh).status).to.equal('invalid');
    expect(util.refreshVerify(util.accessSign({ sub: 'a', name: 'A', sid: 's' })).status).to.equal('invalid');
  });

  it('a token verified before (remembered for the hot path) still expires on time, and its forgeries stay forged', async () => {
    const soon = Math.floor(Date.now() / 1000) + 1;
    const token = jwt.sign({ sub: 'a', name: 'A', sid: 's', iat: soon - 60, exp: soon }, SECRETS.ACCESS_TOKEN_SECRET);
    expect(util.accessVerify(token).status).to.equal('valid');
    const [header, payload] = token.split('.');
    expect(util.accessVerify(`${header}.${payload}.${'A'.repeat(43)}`).status).to.equal('invalid');
    await new Promise((resolve) => setTimeout(resolve, soon * 1000 - Date.now() + 10));
    expect(util.accessVerify(token).status).to.equal('expired');
  });

  it('refuses tokens missing a claim, or nothing at all', () => {
    const noSid = jwt.sign({ sub: 'a', name: 'A' }, SECRETS.ACCESS_TOKEN_SECRET, { expiresIn: 60 });
    expect(util.accessVerify(noSid).status).to.equal('invalid');
    expect(util.accessVerify(undefined).status).to.equal('invalid');
    expect(util.accessVerify('').status).to.equal('invalid');
  });
});

describe('input rules', () => {
  const valid = { id: 'alice_01', name: 'Alice', password: 'a quiet walk home', confirmPassword: 'a quiet walk home' };

  it('accepts a valid registration and trims the name', () => {
    const { errors, registration } = checkRegistration({ ...valid, name: '  Alice  ' });
    expect(errors).to.deep.equal({});
    expect(registration.name).to.equal('Alice');
  });

  it('checks ids: 4-20 of a-z, A-Z, 0-9 and _', () => {
    for (const id of ['abc', 'a'.repeat(21), 'has space', 'dash-no', '한글아이디', ''])
      expect(checkRegistration({ ...valid, id }).errors, id).to.have.property('id');
    for (const id of ['abcd', 'A_b_9', 'x'.repeat(20)]) expect(checkRegistration({ ...valid, id }).errors, id).not.to.have.property('id');
  });

  it('counts code points: 8 emoji make a long enough password, 129 characters are too many', () => {
    const emoji = '😀'.repeat(8);
    expect(codePoints(emoji)).to.equal(8);
    expect(checkRegistration({ ...valid, password: emoji, confirmPassword: emoji }).errors).to.deep.equal({});
    const long = 'z'.repeat(129);
    expect(checkRegistration({ ...valid, password: long, confirmPassword: long }).errors).to.have.property('password');
  });

  it('rejects common passwords without regard to case, and non-string fields', () => {
    expect(checkRegistration({ ...valid, password: 'IloveYou1', confirmPassword: 'IloveYou1' }).errors).to.have.property('password');
    expect(checkRegistration({ ...valid, id: ['alice_01'] }).errors).to.have.property('id');
  });

  it('follows only same-site paths as next', () => {
    expect(safeNextPath('/user/info')).to.equal('/user/info');
    for (const bad of ['//evil', '/\\evil', 'http://evil', '/\n/evil', '', 'user/info', undefined, ['/x']])
      expect(safeNextPath(bad), String(bad)).to.equal(undefined);
  });
});

describe('the network a throttle counts', () => {
  const network = (ip: string) => clientNetwork({ ip } as Request);

  it('is the IPv4 address in every form a proxy may write it, ports and brackets dropped', () => {
    for (const form of [
      '1.2.3.4',
      '1.2.3.4:5555',
      '::ffff:1.2.3.4',
      '::ffff:0102:0304',
      '0:0:0:0:0:ffff:1.2.3.4',
      '[::ffff:1.2.3.4]:80',
      '::1.2.3.4',
      '64:ff9b::1.2.3.4',
    ]) {
      expect(network(form), form).to.equal('1.2.3.4');
    }
  });

  it('is the /64 of an IPv6 address, however it is written', () => {
    for (const form of [
      '2001:db8:abcd:12::1',
      '2001:0db8:abcd:0012:ffff:1:2:3',
      '[2001:db8:abcd:12::9]:443',
      'fe80::1%eth0'.replace('fe80::', '2001:db8:abcd:12::'),
    ]) {
      expect(network(form), form).to.equal('2001:db8:abcd:12::/64');
    }
    expect(network('2001:db8:abcd:13::1')).to.not.equal(network('2001:db8:abcd:12::1'));
  });
});

describe('TOTP secrets at rest', () => {
  const keys = createSecondFactorKeys('a test TOTP encryption key of 32+ characters');
  const IV_BYTES = 12;

  it('open: the sealed value opens for its account only; a truncated GCM tag (4, 8, 12 bytes) opens nothing', () => {
    const secret = Buffer.from('12345678901234567890');
    expect(keys.open(keys.seal(secret, 'alice'), 'Alice')).to.deep.equal(secret);
    expect(keys.open(keys.seal(secret, 'alice'), 'bob')).to.equal(undefined);
    // With nothing encrypted the value is IV and tag only: a shorter tag is a prefix of the right one.
    const empty = keys.seal(Buffer.alloc(0), 'alice');
    expect(keys.open(empty, 'alice')).to.deep.equal(Buffer.alloc(0));
    for (const tagBytes of [4, 8, 12]) expect(keys.open(empty.subarray(0, IV_BYTES + tagBytes), 'alice'), `${tagBytes}-byte tag`).to.equal(undefined);
  });
});

describe('email addresses and mails', () => {
  it("normalisedEmail: the contract's rule (at most 254 characters, one @, a dot in the domain), in lower case", () => {
    expect(normalisedEmail(' Kim.Lee+site@Example.COM ')).to.equal('kim.lee+site@example.com');
    expect(normalisedEmail('김민준@예시.한국')).to.equal('김민준@예시.한국');
    expect(normalisedEmail(`${'a'.repeat(242)}@example.com`)).to.have.length(254);
    for (const bad of [
      '',
      'plain',
      '@example.com',
      'kim@',
      'kim@localhost',
      'kim@@example.com',
      'a@b@example.com',
      'kim@example.',
      'kim@.example.com',
      'kim@exa..mple.com',
      'kim lee@example.com',
      'kim@exam\u0000ple.com',
      '<kim@example.com>',
      `${'a'.repeat(243)}@example.com`,
    ]) {
      expect(normalisedEmail(bad), JSON.stringify(bad)).to.equal(undefined);
    }
  });

  it('compose: text and HTML parts in the letter’s language, the link from its origin, values escaped in HTML', () => {
    const letter = {
      kind: 'addressChanging',
      to: 'old@example.com',
      lang: 'en',
      origin: 'https://login.example.com',
      link: '/user/email',
      params: { id: 'kim', address: '"<b>"@example.com' },
    } as const;
    const mail = compose(letter);
    expect(mail.subject).to.equal('Your email address is being changed');
    expect(mail.links).to.deep.equal(['https://login.example.com/user/email']);
    expect(mail.text).to.include('"<b>"@example.com').and.include('https://login.example.com/user/email').and.include('login.example.com');
    expect(mail.html).to.include('&#34;&#60;b&#62;&#34;@example.com').and.include('<html lang="en">').and.not.include('<b>');
    expect(compose({ ...letter, lang: 'ko' }).subject).to.equal('이메일 주소 변경 요청');
  });

  it('the outbox seal: a payload opens with its Message-ID only, and not under another key', () => {
    const seal = createMailSeal('a test TOTP encryption key of 32+ characters');
    const message = compose({
      kind: 'resetLink',
      to: 'kim@example.com',
      lang: 'ko',
      origin: 'https://login.example.com',
      link: '/user/reset?token=x',
      params: { id: 'kim', minutes: 30 },
    });
    const sealed = seal.seal(message, '<1@example.com>');
    expect(sealed.toString('latin1')).not.to.include('token=x');
    expect(seal.open(sealed, '<1@example.com>')).to.deep.equal(message);
    expect(seal.open(sealed, '<2@example.com>')).to.equal(undefined);
    expect(createMailSeal('another TOTP encryption key of 32+ characters').open(sealed, '<1@example.com>')).to.equal(undefined);
  });
});
