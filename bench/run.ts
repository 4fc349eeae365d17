// npm run bench: ratios measured in one run on this machine, against the targets of issue 20. See README "Performance".
import { createSecretKey, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import dotenv from 'dotenv';
import jwt from 'jsonwebtoken';
import type { RowDataPacket } from 'mysql2';
import { closeStores, openStores, type RedisClient } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/config/logger.js';
import { projectRoot } from '../src/config/paths.js';
import type { RefreshSessions } from '../src/models/refreshSessions.js';
import { createSessionStore } from '../src/services/sessionStore.js';
import { createJwtUtil } from '../src/utils/jwt.js';
import { createPasswords } from '../src/utils/password.js';
import { startPrivateRedis } from '../test/helpers/privateRedis.js';
import { watchSentCommands } from '../test/helpers/sentCommands.js';
import { BASELINE, checkOut } from './baseline.js';
import { cpuPerRequest, load, median, oneCookieEach, outcomes, percentile, runQueueWaitMs, serve, steadyLatencies, stop, type Server } from './servers.js';

dotenv.config({ quiet: true });
const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' });
const ROUNDS = 5;
const PAGE_REQUESTS = 10_000;
const REFRESHES = 3_000;
const STORM_CLIENTS = 20;
const STORM_ACCOUNTS = 200;
const LOGINS_COUNTED = 30;
const LOGINS_FOR_STATEMENTS = 150;
const IDLE_MS = 9_000;
// The info page's latency is read at a steady rate well below what one process serves (several thousand a second
// here), each request sent on time: a saturated server measures its queue, not how much hashing gets in the way.
const STEADY_RATE = 500;
const STEADY_SECONDS = 6;
const STORM_ROUNDS = 3;
const FLOOD_CLIENTS = 50;
const PASSWORD = 'the right password, stored';

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
  const target = (name: string, reached: string, met: boolean) => targets.push([name, reached, met]);

  // 1. jsonwebtoken with a string secret (a KeyObject made per call) against a KeyObject made once.
  const token = jwt.sign({ sub: 'a', name: 'A', sid: 's' }, config.secrets.access, { algorithm: 'HS256', expiresIn: 600 });
  verifyCost(config.secrets.access, token, 2000);
  const stringCost = verifyCost(config.secrets.access, token, 20_000);
  const keyCost = verifyCost(createSecretKey(Buffer.from(config.secrets.access)), token, 20_000);
  rows.push(['jwt verify, string secret', stringCost.toFixed(1), 'µs/verify', '']);
  rows.push(['jwt verify, KeyObject made once', keyCost.toFixed(1), 'µs/verify', `${(stringCost / keyCost).toFixed(1)}× faster`]);

  // 2. A login for an unknown id against a wrong password: the same argon2 work, so the same time. And what one
  // hash with the configured cost takes of the CPU (this process's, all threads): what a login is compared with.
  const passwords = createPasswords(1);
  const storedHash = await passwords.hash(PASSWORD);
  const verifyMs = async (hash: string | undefined) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await passwords.verify(hash, 'a wrong password');
    return Number(process.hrtime.bigint() - started) / 20 / 1e6;
  };
  await verifyMs(storedHash);
  const wrongPasswordMs = await verifyMs(storedHash);
  const unknownIdMs = await verifyMs(undefined);
  const cpuBefore = process.cpuUsage();
  await verifyMs(storedHash);
  const { user, system } = process.cpuUsage(cpuBefore);
  const hashCpuMs = (user + system) / 20 / 1000;
  rows.push(['password check, wrong password', wrongPasswordMs.toFixed(1), 'ms', '']);
  rows.push(['password check, unknown id (dummy hash)', unknownIdMs.toFixed(1), 'ms', `${times(unknownIdMs / wrongPasswordMs)} the wrong password`]);
  rows.push(['one argon2id hash (19 MiB, t=2), CPU', hashCpuMs.toFixed(1), 'ms CPU', 'mean of 20 in a row']);

  // The servers: a Redis of the bench's own (its commands counted without other runs' noise), MySQL from .env.
  const redis = await startPrivateRedis();
  const stores = openStores({ ...config, redisUrl: `redis://127.0.0.1:${redis.port}/0`, redisClusterNodes: undefined }, createLogger('silent'));
  const env = {
    ACCESS_TOKEN_SECRET: config.secrets.access,
    REFRESH_TOKEN_SECRET: config.secrets.refresh,
    COOKIE_SECRET: config.secrets.cookie,
    TOTP_ENCRYPTION_KEY: config.secrets.totp,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    REDIS_URL: `redis://127.0.0.1:${redis.port}/0`,
    REDIS_CLUSTER_NODES: '',
    WEB_CONCURRENCY: '1',
  };
  const production = { ...env, BENCH_PRODUCTION: '1' };
  // Logs on, as in production (one line per request, to a discarded stdout). Servers on core 1, the load on core 0.
  const site = await serve('server.ts', env, '1');
  const bare = await serve('bench/bare.ts', env, '1');
  const productionPage = await serve('bench/bare.ts', production, '1');
  const peer = await serve('bench/sessionPeer.ts', env, '1');
  const productionPeer = await serve('bench/sessionPeer.ts', production, '1');
  const jwtUtil = createJwtUtil(config.secrets, config.accessTtlMs);
  const { sessions } = createSessionStore({ redis: stores.redis, config, logger: createLogger('silent') });
  const cookies = await browserCookies(site, jwtUtil);
  const pageBytes = (await (await fetch(site.url('/user/info'), { headers: { cookie: cookies.site } })).arrayBuffer()).byteLength;
  const peerCookie = { peer: await sessionCookie(peer), productionPeer: await sessionCookie(productionPeer) };
  // What the site sends, by MONITOR: a script's own calls and the listener's heartbeats (per process and time, not per
  // request) are left out.
  const sent = await watchSentCommands(redis.client);
  const sentBy = async <T>(action: () => Promise<T>) => {
    const before = await readsProcessed(redis.client);
    const { result, commands, heartbeats } = await sent.during(action);
    // Read events of the Redis: each a round trip (a pipeline arrives in one), less the markers, heartbeats and INFO.
    const roundTrips = (await readsProcessed(redis.client)) - before - 3 - heartbeats;
    return { result, sent: commands.filter((command) => !command.byScript).length, roundTrips };
  };

  // 3. Server CPU per request of the info page, in interleaved rounds so that a passing disturbance hits all alike.
  const page = (server: Server, cookie?: string) => ({ url: server.url('/user/info'), headers: cookie ? { cookie } : {} });
  let pageCommands = 0;
  let pagesCounted = 0;
  const onSite = async (server: Server, cookie: string) => {
    const { result: us, sent: commands } = await sentBy(() => cpuPerRequest(server, page(server, cookie), PAGE_REQUESTS));
    pageCommands += commands;
    pagesCounted += PAGE_REQUESTS;
    return us;
  };
  const pages = await interleaved({
    bare: () => cpuPerRequest(bare, page(bare, 'logged-in=1'), PAGE_REQUESTS),
    productionPage: () => cpuPerRequest(productionPage, page(productionPage, 'logged-in=1'), PAGE_REQUESTS),
    site: () => onSite(site, cookies.site),
    peer: () => cpuPerRequest(peer, page(peer, peerCookie.peer), PAGE_REQUESTS),
    productionPeer: () => cpuPerRequest(productionPeer, page(productionPeer, peerCookie.productionPeer), PAGE_REQUESTS),
  });
  const logged = (name: string, values: number[], compared = '') => rows.push([name, spread(values, 0), 'µs CPU/request', compared]);
  logged(`info page, bare Express render (ceiling; median of ${ROUNDS}, low–high)`, pages.bare);
  logged('info page, production page with no auth (helmet, pino-http)', pages.productionPage);
  logged('info page, express-session + connect-redis (bare)', pages.peer);
  logged('info page, express-session + connect-redis with helmet, pino-http', pages.productionPeer);
  const vsBare = ratios(pages.bare, pages.site);
  const vsProductionPage = ratios(pages.productionPage, pages.site);
  const vsPeer = ratios(pages.peer, pages.site);
  const vsProductionPeer = ratios(pages.productionPeer, pages.site);
  logged(
    'info page logged in, login-page',
    pages.site,
    `${spread(vsProductionPeer)} the production session peer, ${spread(vsProductionPage)} the production page, ${spread(vsPeer)} the bare session peer, ${spread(vsBare)} the bare render`,
  );
  target('logged-in ≥ 1.5× the production session peer', `${spread(vsProductionPeer)}×`, median(vsProductionPeer) >= 1.5);
  target('logged-in ≥ 1.2× the production page with no auth', `${spread(vsProductionPage)}×`, median(vsProductionPage) >= 1.2);
  target('logged-in ≥ 0.8× the bare render', `${spread(vsBare)}×`, median(vsBare) >= 0.8);
  await Promise.all([bare, productionPage, peer, productionPeer].map(stop));

  const plain = await serve('bench/bare.ts', env, '1');
  const anonymous = await interleaved({
    bare: () => cpuPerRequest(plain, page(plain), PAGE_REQUESTS),
    site: () => cpuPerRequest(site, page(site), PAGE_REQUESTS),
    bareBesideRefresh: () => cpuPerRequest(plain, page(plain, 'logged-in=1'), REFRESHES),
    refresh: async () => cpuPerRequest(site, { url: site.url('/user/info'), ...oneCookieEach(await expiredSessions(sessions, jwtUtil, REFRESHES)) }, REFRESHES),
  });
  await stop(plain);
  logged('info page anonymous, bare render', anonymous.bare);
  logged('info page anonymous, login-page', anonymous.site, `${spread(ratios(anonymous.bare, anonymous.site))} the bare render`);
  logged(
    "info page with a silent refresh (rotation; the account's first page, so its summary is read)",
    anonymous.refresh,
    `${spread(ratios(anonymous.bareBesideRefresh, anonymous.refresh))} the bare render`,
  );
  target('zero store commands on the logged-in page', `${pageCommands} in ${pagesCounted} pages`, pageCommands === 0);

  // 4. Redis commands per silent refresh (on a page that reads nothing else) and per login, as the site sends them.
  const refreshCookies = await expiredSessions(sessions, jwtUtil, 200);
  const refreshes = await sentBy(() => load({ url: site.url('/user/login'), connections: 4, ...oneCookieEach(refreshCookies) }));
  const perRefresh = refreshes.sent / refreshCookies.length;
  rows.push([
    'Redis commands per silent refresh',
    perRefresh.toFixed(2),
    'commands',
    `${(refreshes.roundTrips / refreshCookies.length).toFixed(2)} round trips`,
  ]);
  target('exactly one Redis command per refresh', perRefresh.toFixed(2), perRefresh === 1);

  const accounts = await createAccounts(stores.db, storedHash, STORM_ACCOUNTS);
  const login = await loginRequest(site, accounts);
  // Every account logs in once first: a login from a device the account knows, as most are, is what is counted.
  await load({ ...login, connections: 1, amount: accounts.length });
  const statementsBefore = await statementsRun(stores.db);
  const loginsStarted = performance.now();
  const logins = await sentBy(() => load({ ...login, connections: 1, amount: LOGINS_FOR_STATEMENTS }));
  const loginsMs = performance.now() - loginsStarted;
  // Less what the site runs anyway (the outbox's sender polls every 3 s): at the rate of an idle spell of 9 s.
  const idleBefore = await statementsRun(stores.db);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idle = (((await statementsRun(stores.db)) - idleBefore - 1) * loginsMs) / IDLE_MS;
  const statements = idleBefore - statementsBefore - 1 - idle;
  const counted = logins.result.requests.total;
  const perLogin = { commands: logins.sent / counted, roundTrips: logins.roundTrips / counted, statements: statements / counted };
  rows.push(['Redis per login', perLogin.commands.toFixed(2), 'commands', `in ${perLogin.roundTrips.toFixed(2)} round trips`]);
  rows.push(['MySQL statements per login', perLogin.statements.toFixed(2), 'statements', `${outcomes(logins.result, 303, 'logins')}`]);
  target(
    'Redis per login: ≤ 4 commands in ≤ 2 round trips',
    `${perLogin.commands.toFixed(2)} in ${perLogin.roundTrips.toFixed(2)}`,
    perLogin.commands <= 4 && perLogin.roundTrips <= 2,
  );
  target('MySQL statements per login ≤ 2', perLogin.statements.toFixed(2), perLogin.statements <= 2);
  await sent.stop();

  // 5. Server CPU per login against one hash; then against the baseline build, with its logged-in page.
  const baseline = checkOut(BASELINE);
  try {
    const before = await serve('server.ts', env, '1', baseline.dir);
    const baselineLogin = await loginRequest(before, accounts);
    const loginCpu = (server: Server, request: typeof login) => async () =>
      (await cpuPerRequest(server, { ...request, connections: 1 }, LOGINS_COUNTED, 303)) / 1000;
    const compared = await interleaved({
      sitePage: () => cpuPerRequest(site, page(site, cookies.site), PAGE_REQUESTS),
      baselinePage: async () => cpuPerRequest(before, page(before, await logoutTokenCookie(before, cookies.access)), PAGE_REQUESTS),
      siteLogin: loginCpu(site, login),
      baselineLogin: loginCpu(before, baselineLogin),
    });
    await stop(before);
    const loginVsHash = compared.siteLogin.map((ms) => ms / hashCpuMs);
    rows.push(['server CPU per login', spread(compared.siteLogin, 1), 'ms CPU', `${spread(loginVsHash)}× one hash`]);
    target('server CPU per login ≤ 1.25× one hash', `${spread(loginVsHash)}×`, median(loginVsHash) <= 1.25);
    const pageVsBaseline = ratios(compared.baselinePage, compared.sitePage);
    const loginVsBaseline = ratios(compared.siteLogin, compared.baselineLogin);
    logged(
      `info page logged in, the build of ${baseline.label} (before the confirmation state, heartbeat, activity, outbox)`,
      compared.baselinePage,
      `this build: ${spread(pageVsBaseline)}× its speed`,
    );
    rows.push([
      `server CPU per login, the build of ${baseline.label}`,
      spread(compared.baselineLogin, 1),
      'ms CPU',
      `this build: ${spread(loginVsBaseline)}× its CPU`,
    ]);
    target(`logged-in page costs nothing more than ${baseline.label}'s (≥ 0.95× its speed)`, `${spread(pageVsBaseline)}×`, median(pageVsBaseline) >= 0.95);
    target(`a login costs at most 5% more than ${baseline.label}'s`, `${spread(loginVsBaseline)}×`, median(loginVsBaseline) <= 1.05);
  } finally {
    baseline.remove();
  }

  // 6. The info page at a steady rate, alone and during a storm of logins (argon2 on the niced thread pool), in
  // interleaved rounds; and how long the event loop waited for its core meanwhile (the kernel's count, not noise).
  const pid = site.child.pid!;
  const waitedFor = async <T>(action: () => Promise<T>): Promise<[T, number]> => {
    const before = runQueueWaitMs(pid);
    const result = await action();
    return [result, (runQueueWaitMs(pid) - before) / (STEADY_SECONDS + 1)];
  };
  const steady = () => steadyLatencies(site.url('/user/info'), { cookie: cookies.site }, STEADY_RATE, STEADY_SECONDS);
  const storms: autocannon.Result[] = [];
  const wait = { alone: [] as number[], storm: [] as number[] };
  const p99s = await interleaved(
    {
      alone: async () => {
        const [latencies, waited] = await waitedFor(steady);
        wait.alone.push(waited);
        return percentile(latencies, 99);
      },
      storm: async () => {
        const [[latencies, storm], waited] = await waitedFor(() =>
          Promise.all([steady(), load({ ...login, connections: STORM_CLIENTS, duration: STEADY_SECONDS + 1 })]),
        );
        wait.storm.push(waited);
        storms.push(storm);
        return percentile(latencies, 99);
      },
    },
    STORM_ROUNDS,
  );
  const stormRatios = ratios(p99s.storm, p99s.alone);
  rows.push([
    `info page p99 latency at ${STEADY_RATE} requests/s, alone`,
    spread(p99s.alone, 1),
    'ms',
    `event loop waiting for its core ${spread(wait.alone.slice(1), 0)} ms/s`,
  ]);
  rows.push([
    `info page p99 latency at ${STEADY_RATE} requests/s, during a ${STORM_CLIENTS}-client login storm`,
    spread(p99s.storm, 1),
    'ms',
    `${spread(stormRatios)}× alone; event loop waiting for its core ${spread(wait.storm.slice(1), 0)} ms/s`,
  ]);
  const stormLogins = storms.slice(1);
  const stormOutcome = stormLogins.map((storm) => outcomes(storm, 303, 'logins')).join('; ');
  rows.push([
    'logins during the storm',
    spread(
      stormLogins.map((storm) => storm.requests.average),
      0,
    ),
    'logins/s',
    stormOutcome,
  ]);
  const stormOk = stormLogins.every((storm) => storm.requests.total > 0 && storm.statusCodeStats?.['303']?.count === storm.requests.total && !storm.errors);
  target('info p99 during the login storm ≤ 1.3× alone, logins succeeding', `${spread(stormRatios)}×, ${stormOutcome}`, median(stormRatios) <= 1.3 && stormOk);

  // 6b. Logins while pages flood the event loop: hashes niced must still get enough of the core to finish.
  const [, flooded] = await Promise.all([
    load({ ...page(site, cookies.site), connections: FLOOD_CLIENTS, duration: STEADY_SECONDS }),
    load({ ...login, connections: 1, duration: STEADY_SECONDS }),
  ]);
  const floodOk = flooded.requests.total > 0 && flooded.statusCodeStats?.['303']?.count === flooded.requests.total && !flooded.errors;
  rows.push([
    `login latency while ${FLOOD_CLIENTS} clients flood the info page`,
    `${flooded.latency.p50}`,
    'ms p50',
    `p99 ${flooded.latency.p99} ms, ${outcomes(flooded, 303, 'logins')}`,
  ]);
  target('logins during a page flood succeed', outcomes(flooded, 303, 'logins'), floodOk);
  await stop(site);

  // 7. One worker against two (WEB_CONCURRENCY=2), neither pinned, beside a trivial app's 1 and 2 as the control.
  const workerRatio = async (script: string, cookieFor: (server: Server) => Promise<string>, extra: Record<string, string> = {}) => {
    const one = await serve(script, { ...env, ...extra, WEB_CONCURRENCY: '1' });
    const two = await serve(script, { ...env, ...extra, WEB_CONCURRENCY: '2' });
    const cookie = { one: await cookieFor(one), two: await cookieFor(two) };
    const rps = await interleaved(
      {
        one: async () => (await load({ ...page(one, cookie.one), connections: 50 })).requests.average,
        two: async () => (await load({ ...page(two, cookie.two), connections: 50 })).requests.average,
      },
      3,
    );
    await Promise.all([stop(one), stop(two)]);
    return rps;
  };
  const siteWorkers = await workerRatio('server.ts', (server) => logoutTokenCookie(server, cookies.access));
  const control = await workerRatio('bench/trivial.ts', () => Promise.resolve(''), { BENCH_BODY_BYTES: String(pageBytes) });
  const siteGain = ratios(siteWorkers.two, siteWorkers.one);
  const controlGain = ratios(control.two, control.one);
  rows.push(['logged-in info page, 1 worker', spread(siteWorkers.one, 0), 'requests/s', '']);
  rows.push(['logged-in info page, WEB_CONCURRENCY=2', spread(siteWorkers.two, 0), 'requests/s', `${spread(siteGain)}× 1 worker`]);
  rows.push(['trivial Express app (control), 1 worker', spread(control.one, 0), 'requests/s', `${pageBytes} bytes an answer, as the page`]);
  rows.push(['trivial Express app (control), 2 workers', spread(control.two, 0), 'requests/s', `${spread(controlGain)}× 1 worker`]);
  target('2 workers ≥ 1.3× 1 worker (the control gets the ratio beside it)', `${spread(siteGain)}× (control ${spread(controlGain)}×)`, median(siteGain) >= 1.3);

  await stores.db.query('DELETE security_events FROM security_events JOIN users ON users.pk = security_events.user_pk WHERE users.id IN (?)', [accounts]);
  await stores.db.query('DELETE FROM users WHERE id IN (?)', [accounts]);
  await closeStores(stores);
  await redis.stop();
  report(rows, targets);
}

/** `rounds` interleaved rounds of each case after a warm-up of each: every round's value of each. */
async function interleaved<K extends string>(cases: Record<K, () => Promise<number>>, rounds = ROUNDS): Promise<Record<K, number[]>> {
  const names = Object.keys(cases) as K[];
  for (const name of names) await cases[name]();
  const values = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) for (const name of names) values[name].push(await cases[name]());
  return values;
}

/** Round by round, `a` over `b` (a ratio above 1: `b` is the faster, for costs; `a` is, for rates). */
const ratios = (a: number[], b: number[]) => a.map((value, round) => value / b[round]);
const times = (value: number) => `${value.toFixed(2)}×`;
/** "0.69 (0.64–0.73)": the median, then the lowest and highest round. */
const spread = (values: number[], digits = 2) => {
  const sorted = [...values].sort((x, y) => x - y);
  return `${median(values).toFixed(digits)} (${sorted[0].toFixed(digits)}–${sorted.at(-1)!.toFixed(digits)})`;
};

/** Read events a Redis has processed: a client's round trip is one (a pipeline arrives in one read). */
async function readsProcessed(client: RedisClient): Promise<number> {
  return Number(/total_reads_processed:(\d+)/.exec(await client.info('stats'))![1]);
}

/** Statements the MySQL server has run for its clients (this query among them). */
async function statementsRun(db: ReturnType<typeof openStores>['db']): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Questions'");
  return Number(rows[0].Value);
}

/** What a browser holds after logging in: the site's cookies (auth and CSRF). */
async function browserCookies(site: Server, jwtUtil: ReturnType<typeof createJwtUtil>) {
  // The bench user's session need not exist in Redis: a valid access token is all the info page checks.
  const access = `__Host-accessToken=${jwtUtil.accessSign({ sub: 'bench_user', name: 'Bench', sid: 'bench-sid' })}`;
  return { access, site: await logoutTokenCookie(site, access) };
}

/** A session peer's cookie after its login. */
async function sessionCookie(peer: Server): Promise<string> {
  const res = await fetch(peer.url('/login'), { method: 'POST' });
  return res.headers.getSetCookie()[0].split(';')[0];
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
async function loginRequest(site: Server, accounts: string[]) {
  const page = await fetch(site.url('/user/login'));
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
  const csrfCookie = page.headers
    .getSetCookie()
    .find((c) => c.startsWith('__Host-csrf='))!
    .split(';')[0];
  let next = 0;
  const body = () => `id=${accounts[next++ % accounts.length]}&password=${encodeURIComponent(PASSWORD)}`;
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
    "Production mode, logs on (one line per request). Page and login rows are the server process's CPU time per",
    `request, the median of ${ROUNDS} interleaved rounds with the lowest and highest round in brackets (servers pinned to`,
    'core 1, the load on core 0); a ratio is taken round by round, and above 1 means faster than what it is compared',
    'with. The peers: the bare render and the bare session peer (express-session + connect-redis) send the page with no',
    'header and no log line (the ceiling); the production page (no auth) and the production session peer add helmet',
    "and pino-http to stdout, as a reader would deploy them. The baseline is another build's server, started the same",
    'way in the same run. The worker rows are unpinned, beside a trivial Express app as the control. The bench starts a',
    "Redis of its own, so its command counts are exact; MySQL statements are the server's Questions counter.",
    '',
    table,
    '',
    '## Targets (issue 20)',
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
