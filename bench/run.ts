// npm run bench: ratios measured in one run on this machine, against the targets of issue 11. See README "Performance".
import { createSecretKey, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import jwt from 'jsonwebtoken';
import { closeStores, openStores } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/config/logger.js';
import { projectRoot } from '../src/config/paths.js';
import type { RefreshSessions } from '../src/models/refreshSessions.js';
import { createSessionStore } from '../src/services/sessionStore.js';
import { createJwtUtil } from '../src/utils/jwt.js';
import { createPasswords } from '../src/utils/password.js';
import { startPrivateRedis } from '../test/helpers/privateRedis.js';
import { watchSentCommands } from '../test/helpers/sentCommands.js';
import { cpuPerRequest, load, median, oneCookieEach, outcomes, serve, stop, type Server } from './servers.js';

dotenv.config({ quiet: true });
const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' });
const ROUNDS = 5;
const PAGE_REQUESTS = 10_000;
const REFRESHES = 3_000;
const STORM_CLIENTS = 20;
const STORM_ACCOUNTS = 40;

type Row = [measure: string, value: string, unit: string, compared: string];
type Target = [target: string, reached: string, met: boolean];

function verifyCost(key: string | ReturnType<typeof createSecretKey>, token: string, rounds: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) jwt.verify(token, key, { algorithms: ['HS256'] });
  return Number(process.hrtime.bigint() - started) / rounds / 1000;
}

async function main() {
  const rows: Row[] = [];
  const targets: Target[] = [];
  const push = rows.push.bind(rows);
  // Each row on stderr as it is measured: a long run that fails late still shows what it measured.
  rows.push = (...added: Row[]) => (added.forEach((row) => console.error(row.join('  '))), push(...added));
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

  // 1. jsonwebtoken with a string secret (a KeyObject made per call) against a KeyObject made once.
  const token = jwt.sign({ sub: 'a', name: 'A', sid: 's' }, config.secrets.access, { algorithm: 'HS256', expiresIn: 600 });
  verifyCost(config.secrets.access, token, 2000);
  const stringCost = verifyCost(config.secrets.access, token, 20_000);
  const keyCost = verifyCost(createSecretKey(Buffer.from(config.secrets.access)), token, 20_000);
  rows.push(['jwt verify, string secret', stringCost.toFixed(1), 'µs/verify', '']);
  rows.push(['jwt verify, KeyObject made once', keyCost.toFixed(1), 'µs/verify', `${(stringCost / keyCost).toFixed(1)}× faster`]);

  // 2. A login for an unknown id against a wrong password: the same argon2 work, so the same time.
  const passwords = createPasswords(1);
  const storedHash = await passwords.hash('the right password, stored');
  const verifyMs = async (hash: string | undefined) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await passwords.verify(hash, 'a wrong password');
    return Number(process.hrtime.bigint() - started) / 20 / 1e6;
  };
  await verifyMs(storedHash);
  const wrongPasswordMs = await verifyMs(storedHash);
  const unknownIdMs = await verifyMs(undefined);
  rows.push(['password check, wrong password', wrongPasswordMs.toFixed(1), 'ms', '']);
  rows.push(['password check, unknown id (dummy hash)', unknownIdMs.toFixed(1), 'ms', `${ratio(unknownIdMs, wrongPasswordMs)} the wrong password`]);

  // The servers: a Redis of the bench's own (its commands counted without other runs' noise), MySQL from .env.
  const redis = await startPrivateRedis();
  const stores = openStores({ ...config, redisUrl: `redis://127.0.0.1:${redis.port}/0`, redisClusterNodes: undefined }, createLogger('silent'));
  const secrets = {
    ACCESS_TOKEN_SECRET: config.secrets.access,
    REFRESH_TOKEN_SECRET: config.secrets.refresh,
    COOKIE_SECRET: config.secrets.cookie,
    TOTP_ENCRYPTION_KEY: config.secrets.totp,
  };
  const env = {
    ...secrets,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    REDIS_URL: `redis://127.0.0.1:${redis.port}/0`,
    REDIS_CLUSTER_NODES: '',
    WEB_CONCURRENCY: '1',
  };
  // Logs on, as in production (one line per request, to a discarded stdout). Servers on core 1, the load on core 0.
  const site = await serve('server.ts', env, '1');
  const bare = await serve('bench/bare.ts', env, '1');
  const peer = await serve('bench/sessionPeer.ts', env, '1');
  const jwtUtil = createJwtUtil(config.secrets, config.accessTtlMs);
  const { sessions } = createSessionStore({ redis: stores.redis, config, logger: createLogger('silent') });
  const cookies = await browserCookies(site, peer, jwtUtil);
  // What the site sends, by MONITOR: a script's own calls and the listener's heartbeats (per process and time, not per
  // request) are left out.
  const sent = await watchSentCommands(redis.client);
  const sentBy = async <T>(action: () => Promise<T>) => {
    const { result, commands } = await sent.during(action);
    return { result, sent: commands.filter((command) => !command.byScript).length };
  };

  // 3. Server CPU per request of the info page, in interleaved rounds so that a passing disturbance hits all alike.
  const page = (server: Server, cookie?: string) => ({ url: server.url('/user/info'), headers: cookie ? { cookie } : {} });
  let pageCommands = 0;
  let pagesCounted = 0;
  const cases = {
    bare: () => cpuPerRequest(bare, page(bare, 'logged-in=1'), PAGE_REQUESTS),
    bareAnonymous: () => cpuPerRequest(bare, page(bare), PAGE_REQUESTS),
    site: async () => {
      const { result: us, sent: commands } = await sentBy(() => cpuPerRequest(site, page(site, cookies.site), PAGE_REQUESTS));
      pageCommands += commands;
      pagesCounted += PAGE_REQUESTS;
      return us;
    },
    siteAnonymous: () => cpuPerRequest(site, page(site), PAGE_REQUESTS),
    peer: () => cpuPerRequest(peer, page(peer, cookies.peer), PAGE_REQUESTS),
    refresh: async () => cpuPerRequest(site, { url: site.url('/user/info'), ...oneCookieEach(await expiredSessions(sessions, jwtUtil, REFRESHES)) }, REFRESHES),
  };
  // Each comparison in a block of its own (what ran just before on the core moves the figures), interleaved within.
  const us = {
    ...(await interleaved({ bare: cases.bare, site: cases.site, peer: cases.peer })),
    ...(await interleaved({ bareAnonymous: cases.bareAnonymous, siteAnonymous: cases.siteAnonymous })),
    ...(await interleaved({ bareBesideRefresh: cases.bare, refresh: cases.refresh })),
  };
  rows.push([`info page, bare Express render (median of ${ROUNDS})`, us.bare.toFixed(0), 'µs CPU/request', '']);
  rows.push([
    'info page logged in, login-page',
    us.site.toFixed(0),
    'µs CPU/request',
    `${ratio(us.bare, us.site)} the bare render, ${ratio(us.peer, us.site)} the session peer`,
  ]);
  rows.push(['info page logged in, express-session + connect-redis', us.peer.toFixed(0), 'µs CPU/request', `${ratio(us.bare, us.peer)} the bare render`]);
  rows.push(['info page anonymous, bare render', us.bareAnonymous.toFixed(0), 'µs CPU/request', '']);
  rows.push(['info page anonymous, login-page', us.siteAnonymous.toFixed(0), 'µs CPU/request', `${ratio(us.bareAnonymous, us.siteAnonymous)} the bare render`]);
  rows.push([
    'info page with a silent refresh (rotation)',
    us.refresh.toFixed(0),
    'µs CPU/request',
    `${ratio(us.bareBesideRefresh, us.refresh)} the bare render (${us.bareBesideRefresh.toFixed(0)} µs in this block)`,
  ]);
  targets.push(['logged-in info page ≥ 0.9× the bare render', ratio(us.bare, us.site), us.bare / us.site >= 0.9]);
  targets.push(['logged-in info page ≥ 1.5× the session peer', ratio(us.peer, us.site), us.peer / us.site >= 1.5]);
  targets.push(['anonymous info page ≥ 0.9× the bare render', ratio(us.bareAnonymous, us.siteAnonymous), us.bareAnonymous / us.siteAnonymous >= 0.9]);
  targets.push(['silent refresh ≥ 0.5× the bare render', ratio(us.bareBesideRefresh, us.refresh), us.bareBesideRefresh / us.refresh >= 0.5]);
  targets.push(['zero store commands on the logged-in page', `${pageCommands} in ${pagesCounted} pages`, pageCommands === 0]);
  await stop(bare);
  await stop(peer);

  // 4. Redis commands per silent refresh and per login, as the site sends them (a script's own calls not counted).
  const refreshCookies = await expiredSessions(sessions, jwtUtil, 200);
  const refreshes = await sentBy(() => load({ url: site.url('/user/info'), connections: 4, ...oneCookieEach(refreshCookies) }));
  const perRefresh = refreshes.sent / refreshCookies.length;
  rows.push(['Redis commands per silent refresh', perRefresh.toFixed(2), 'commands', '']);
  targets.push(['exactly one Redis command per refresh', perRefresh.toFixed(2), perRefresh === 1]);
  const accounts = await createAccounts(stores.db, storedHash, STORM_ACCOUNTS);
  const login = await loginRequest(site, accounts, 'the right password, stored');
  const logins = await sentBy(() => load({ ...login, connections: 1, amount: 20 }));
  const perLogin = logins.sent / logins.result.requests.total;
  rows.push(['Redis commands per login', perLogin.toFixed(2), 'commands', 'the throttle script; then the session script and the throttle release, pipelined']);
  await sent.stop();

  // 5. The info page alone, then during a storm of logins (argon2 on the thread pool, HASH_CONCURRENCY=1).
  const alone = await load(page(site, cookies.site));
  const [during, storm] = await Promise.all([load(page(site, cookies.site)), load({ ...login, connections: STORM_CLIENTS })]);
  rows.push(['info page p99 latency, alone', String(alone.latency.p99), 'ms', '']);
  rows.push([`info page p99 latency, during a ${STORM_CLIENTS}-client login storm`, String(during.latency.p99), 'ms', '']);
  rows.push(['logins during the storm', storm.requests.average.toFixed(0), 'logins/s', outcomes(storm, 303, 'logins')]);
  const stormOk = storm.requests.total > 0 && !storm.non2xx && !storm.errors;
  targets.push([
    'info page p99 during the login storm < 25 ms, logins succeeding',
    `${during.latency.p99} ms, ${outcomes(storm, 303, 'logins')}`,
    during.latency.p99 < 25 && stormOk,
  ]);
  await stop(site);

  // 6. One worker against two (WEB_CONCURRENCY=2), neither pinned: the load shares the two cores with them.
  const one = await serve('server.ts', { ...env, WEB_CONCURRENCY: '1' });
  const two = await serve('server.ts', { ...env, WEB_CONCURRENCY: '2' });
  const workerCookies = { one: await logoutTokenCookie(one, cookies.access), two: await logoutTokenCookie(two, cookies.access) };
  const throughput = { one: [] as number[], two: [] as number[] };
  const cpuEach = { one: [] as number[], two: [] as number[] };
  for (let round = 0; round < 3; round++) {
    for (const [name, server] of [
      ['one', one],
      ['two', two],
    ] as const) {
      const target = { ...page(server, workerCookies[name]), connections: 50 };
      throughput[name].push((await load(target)).requests.average);
      cpuEach[name].push(await cpuPerRequest(server, target, PAGE_REQUESTS));
    }
  }
  const rps = { one: median(throughput.one), two: median(throughput.two) };
  const cpuPer = { one: median(cpuEach.one), two: median(cpuEach.two) };
  rows.push(['logged-in info page, 1 worker', rps.one.toFixed(0), 'requests/s', `${cpuPer.one.toFixed(0)} µs CPU/request`]);
  rows.push([
    'logged-in info page, WEB_CONCURRENCY=2',
    rps.two.toFixed(0),
    'requests/s',
    `${cpuPer.two.toFixed(0)} µs CPU/request, ${ratio(rps.two, rps.one)} 1 worker`,
  ]);
  targets.push(['2 workers ≥ 1.3× 1 worker', ratio(rps.two, rps.one), rps.two / rps.one >= 1.3]);
  // "No higher", within the few per cent that two runs of the same server differ by here.
  targets.push(['CPU per request with 2 workers no higher than with 1 (±5%)', ratio(cpuPer.two, cpuPer.one), cpuPer.two <= cpuPer.one * 1.05]);
  await Promise.all([stop(one), stop(two)]);

  await stores.db.query('DELETE FROM users WHERE id IN (?)', [accounts]);
  await closeStores(stores);
  await redis.stop();
  report(rows, targets);
}

/** `ROUNDS` interleaved rounds of each case after a warm-up of each; the median of each. */
async function interleaved<K extends string>(cases: Record<K, () => Promise<number>>): Promise<Record<K, number>> {
  const names = Object.keys(cases) as K[];
  for (const name of names) await cases[name]();
  const values = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < ROUNDS; round++) for (const name of names) values[name].push(await cases[name]());
  return Object.fromEntries(names.map((name) => [name, median(values[name])])) as Record<K, number>;
}

/** What a browser holds after logging in: the site's cookies (auth and CSRF), and the peer's session cookie. */
async function browserCookies(site: Server, peer: Server, jwtUtil: ReturnType<typeof createJwtUtil>) {
  // The bench user's session need not exist in Redis: a valid access token is all the info page checks.
  const access = `__Host-accessToken=${jwtUtil.accessSign({ sub: 'bench_user', name: 'Bench', sid: 'bench-sid' })}`;
  const peerLogin = await fetch(peer.url('/login'), { method: 'POST' });
  return { access, site: await logoutTokenCookie(site, access), peer: peerLogin.headers.getSetCookie()[0].split(';')[0] };
}

/** The info page sets the logout token's CSRF cookie once; a browser sends it back with the access cookie. */
async function logoutTokenCookie(site: Server, access: string): Promise<string> {
  const res = await fetch(site.url('/user/info'), { headers: { cookie: access } });
  const csrf = res.headers.getSetCookie().find((c) => c.startsWith('__Host-csrf='));
  return csrf ? `${access}; ${csrf.split(';')[0]}` : access;
}

/** `count` live sessions, each presented with an expired access token: every request is a real rotation. */
async function expiredSessions(sessions: RefreshSessions, jwtUtil: ReturnType<typeof createJwtUtil>, count: number): Promise<string[]> {
  const accessKey = createSecretKey(Buffer.from(config.secrets.access));
  const now = Math.floor(Date.now() / 1000);
  const expiresAtMs = Date.now() + config.refreshTtlMs;
  const cookies: string[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => {
      const userId = `bench_${i + j}`;
      const sid = randomBytes(12).toString('base64url');
      const jti = randomBytes(12).toString('base64url');
      const access = jwt.sign({ sub: userId, name: 'Bench', sid, iat: now - 700, exp: now - 100 }, accessKey, { algorithm: 'HS256' });
      const refresh = jwtUtil.refreshSign({ sub: userId, sid, jti }, expiresAtMs);
      cookies.push(`__Host-accessToken=${access}; __Host-refreshToken=${refresh}`);
      return sessions.create({ userId, sid, jti, expiresAtMs, userAgent: 'bench', ip: '127.0.0.1', deviceKey: '|', shared: false });
    });
    await Promise.all(batch);
  }
  return cookies;
}

async function createAccounts(db: ReturnType<typeof openStores>['db'], passwordHash: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => `bench_${randomBytes(5).toString('hex')}`);
  await db.query('INSERT INTO users (id, name, password_hash) VALUES ?', [ids.map((id) => [id, 'Bench', passwordHash])]);
  return ids;
}

/** Form logins, each of one of `accounts` in turn, with a CSRF token from the login page. */
async function loginRequest(site: Server, accounts: string[], password: string) {
  const page = await fetch(site.url('/user/login'));
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
  const csrfCookie = page.headers
    .getSetCookie()
    .find((c) => c.startsWith('__Host-csrf='))!
    .split(';')[0];
  let next = 0;
  const body = () => `id=${accounts[next++ % accounts.length]}&password=${encodeURIComponent(password)}`;
  return {
    url: site.url('/user/login'),
    method: 'POST' as const,
    headers: { cookie: csrfCookie, 'x-csrf-token': csrfToken, 'content-type': 'application/x-www-form-urlencoded' },
    requests: [{ setupRequest: (req: object) => ({ ...req, body: body() }) }],
  };
}

function report(rows: Row[], targets: Target[]): void {
  const table = markdownTable(['measure', 'value', 'unit', 'compared / outcome'], rows);
  const goals = markdownTable(
    ['target', 'reached', ''],
    targets.map(([target, reached, met]) => [target, reached, met ? 'met' : 'missed']),
  );
  console.log(`${table}\n\n${goals}`);
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
  const doc = [
    '# Benchmarks',
    '',
    `\`npm run bench\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, on ${machine}.`,
    '',
    "Production mode, logs on (one line per request). Page rows are the server process's CPU time per request, the",
    `median of ${ROUNDS} interleaved rounds (servers pinned to core 1, the load on core 0); a ratio above 1 means`,
    'faster than what it is compared with. The worker rows are unpinned. The bench starts a Redis of its own, so its',
    'command counts are exact. On this 2-core machine the page rows move with whatever ran before on the same core',
    '(the bare render has read 160 to 337 µs in runs half an hour apart): compare runs, not one figure.',
    '',
    table,
    '',
    '## Targets (issue 11)',
    '',
    goals,
    '',
  ].join('\n');
  writeFileSync(path.join(projectRoot, 'docs', 'benchmarks.md'), doc);
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  return [line(header), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).message} (has npm run setup run?)`);
  process.exit(1);
}
