import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { freePort } from './helpers/freePort.js';
import { nginxBinary, startNginx, type LocalNginx } from './helpers/nginx.js';
import { startPrivateRedis } from './helpers/privateRedis.js';
import { missingClusterTools, startRedisCluster } from './helpers/redisCluster.js';
import { cookieHeader, expire, isLoggedIn, PASSWORD, SECRETS, setCookies, uniqueId, type Tokens } from './helpers/site.js';
import { testStores } from './helpers/stores.js';

const LOGIN_MAX_FAILURES = 5;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The site process that answered, as nginx names it (test-only header). */
  upstream: string;
}

/** One request through nginx, from the local address `from` (loopback aliases: 127.0.0.2, 127.0.0.3, …). */
function send(port: number, path: string, { from = '127.0.0.1', method = 'GET', headers = {}, body }: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, localAddress: from, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, upstream: String(res.headers['x-upstream']) }));
    });
    req.on('error', reject).end(body);
  });
}
interface SendOptions {
  from?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A site process (server.ts) on `port`, ready once its /readyz says both stores answer. */
async function startSite(port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env: { ...process.env, ...env, PORT: String(port) }, stdio: 'ignore' });
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) return child;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the site on ${port} did not become ready`);
  }
}

describe('two site processes behind nginx (TRUST_PROXY=1), one MySQL and one Redis', function () {
  this.timeout(120_000);
  let nginx: LocalNginx;
  const sites: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const csrf = { cookie: '', token: '' };

  const through = (path: string, options?: SendOptions) => send(nginx.port, path, options);
  /** A form POST as the site's page sends it, through nginx. */
  const post = (
    path: string,
    fields: Record<string, string>,
    { from, cookie, headers = {} }: { from?: string; cookie?: string; headers?: Record<string, string> } = {},
  ) =>
    through(path, {
      from,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrf-token': csrf.token,
        origin: `http://127.0.0.1:${nginx.port}`,
        cookie: [csrf.cookie, cookie].filter(Boolean).join('; '),
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
    });
  const info = (tokens: Partial<Tokens>) => through('/user/info', { headers: { cookie: cookieHeader(tokens) } });
  const tokensOf = (res: Answer): Tokens => {
    const cookies = setCookies(res);
    return { accessToken: cookies.accessToken.value, refreshToken: cookies.refreshToken.value };
  };

  before(async function () {
    const nginxPath = nginxBinary();
    if (!nginxPath) {
      if (process.env.CI) throw new Error('nginx is not installed (npm run setup installs it as root): the reverse-proxy test must run in CI');
      console.log('      (skipped: nginx is not installed; npm run setup installs it as root, or: sudo apt-get install -y nginx)');
      this.skip();
    }
    // A real 3-master Redis Cluster when redis-cli is there to make one, else a Redis of this test's own.
    let redisEnv: Record<string, string>;
    if (missingClusterTools()) {
      const redis = await startPrivateRedis();
      cleanups.push(redis.stop);
      redisEnv = { REDIS_URL: `redis://127.0.0.1:${redis.port}`, REDIS_CLUSTER_NODES: '' };
    } else {
      const cluster = await startRedisCluster();
      cleanups.push(cluster.stop);
      redisEnv = { REDIS_CLUSTER_NODES: cluster.seeds.join(',') };
    }
    const env = {
      ...SECRETS,
      ...redisEnv,
      NODE_ENV: 'development',
      DATABASE_URL: (await testStores()).databaseUrl,
      TRUST_PROXY: '1',
      PUBLIC_ORIGIN: '',
      WEB_CONCURRENCY: '1',
      HASH_CONCURRENCY: '2',
      ACCESS_TOKEN_TTL: '10m',
      LOGIN_MAX_FAILURES: String(LOGIN_MAX_FAILURES),
      LOGIN_FAILURE_WINDOW: '15m',
      LOGIN_IP_MAX_FAILURES: '1000',
      REGISTER_MAX_PER_IP: '1000',
      LOG_LEVEL: 'silent',
    };
    const ports = [await freePort(), await freePort()];
    sites.push(...(await Promise.all(ports.map((port) => startSite(port, env)))));
    nginx = await startNginx(
      nginxPath,
      ports.map((port) => `127.0.0.1:${port}`),
    );
    const page = await through('/user/login');
    csrf.token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
    csrf.cookie = `csrf=${encodeURIComponent(setCookies(page).csrf.value)}`;
  });

  after(async () => {
    await nginx?.stop();
    await Promise.all(sites.filter((site) => site.exitCode === null).map((site) => (site.kill('SIGTERM'), once(site, 'exit'))));
    for (const cleanup of cleanups) await cleanup();
  });

  it('registers and logs in through it; requests spread over both processes; a refresh on one, a logout on the other ends the session on both within 1 s', async () => {
    const id = uniqueId();
    const registered = await post('/user/register', { id, name: 'Tester', password: PASSWORD, confirmPassword: PASSWORD });
    expect(registered.status, registered.text).to.equal(303);
    const login = await post('/user/login', { id, password: PASSWORD });
    expect(login.status, login.text).to.equal(303);
    const tokens = tokensOf(login);

    const pages = [];
    for (let i = 0; i < 10; i++) pages.push(await info(tokens));
    expect(
      pages.every((page) => isLoggedIn(page)),
      'logged in on every page',
    ).to.equal(true);
    const processes = [...new Set(pages.map((page) => page.upstream))];
    expect(processes, 'the processes that served').to.have.length(2);

    const refreshed = await info({ accessToken: expire(tokens.accessToken), refreshToken: tokens.refreshToken });
    expect(isLoggedIn(refreshed), 'a silent refresh').to.equal(true);
    const current = tokensOf(refreshed);
    expect(current.refreshToken).to.not.equal(tokens.refreshToken);
    // nginx takes turns (round robin, one worker): the request after one the refreshing process served goes to the other.
    for (let i = 0; i < 10 && (await through('/healthz')).upstream !== refreshed.upstream; i++);
    const logout = await through('/user/logout', { headers: { cookie: cookieHeader(current) } });
    expect(logout.status).to.equal(303);
    expect(logout.upstream, 'the logout was served by the other process').to.not.equal(refreshed.upstream);

    // The logged-out access token (10 minutes left) is refused by both processes within 1 s of the logout.
    const refusedBy = new Set<string>();
    for (const deadline = Date.now() + 1000; refusedBy.size < 2 && Date.now() < deadline; await sleep(10)) {
      const page = await info({ accessToken: current.accessToken });
      if (!isLoggedIn(page)) refusedBy.add(page.upstream);
    }
    expect([...refusedBy].sort(), 'processes that refuse the ended session within 1 s').to.deep.equal(processes.sort());
    const late = await info({ accessToken: expire(current.accessToken), refreshToken: current.refreshToken });
    expect(isLoggedIn(late), 'the refresh token after the logout').to.equal(false);
  });

  it('throttling sees the client address, not the proxy: 30 wrong logins at once from 127.0.0.2 give exactly LOGIN_MAX_FAILURES 401s; 127.0.0.3 still gets 401; a made-up X-Forwarded-For does not escape', async () => {
    const id = uniqueId();
    expect((await post('/user/register', { id, name: 'Tester', password: PASSWORD, confirmPassword: PASSWORD })).status).to.equal(303);
    const wrong = (from: string, headers?: Record<string, string>) => post('/user/login', { id, password: 'wrong password here' }, { from, headers });

    const burst = await Promise.all(Array.from({ length: 30 }, () => wrong('127.0.0.2')));
    const statuses = burst.map((res) => res.status);
    expect(
      statuses.filter((status) => status === 401),
      statuses.join(','),
    ).to.have.length(LOGIN_MAX_FAILURES);
    expect(statuses.filter((status) => status === 429)).to.have.length(30 - LOGIN_MAX_FAILURES);
    expect(new Set(burst.map((res) => res.upstream)).size, 'the burst reached both processes').to.equal(2);

    expect((await wrong('127.0.0.3')).status, 'another client, same id').to.equal(401);
    for (const forwarded of ['203.0.113.7', '127.0.0.3', '203.0.113.7, 127.0.0.3']) {
      expect((await wrong('127.0.0.2', { 'x-forwarded-for': forwarded })).status, `X-Forwarded-For: ${forwarded}`).to.equal(429);
    }
    expect((await post('/user/login', { id, password: PASSWORD }, { from: '127.0.0.2' })).status, 'the right password, still locked').to.equal(429);
  });
});
