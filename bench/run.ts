// npm run bench: ratios measured in one run on this machine. See README "Performance".
import { spawn, type ChildProcess } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import dotenv from 'dotenv';
import jwt from 'jsonwebtoken';
import { closeStores, openStores } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/config/logger.js';
import { createUserModel } from '../src/models/user.js';
import { createJwtUtil } from '../src/utils/jwt.js';
import { createPasswords } from '../src/utils/password.js';
import { freePort } from '../test/helpers/freePort.js';

dotenv.config({ quiet: true });
const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' });
const DURATION_S = 4;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function verifyCost(key: string | ReturnType<typeof createSecretKey>, token: string, rounds: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) jwt.verify(token, key, { algorithms: ['HS256'] });
  return Number(process.hrtime.bigint() - started) / rounds / 1000;
}

const children: ChildProcess[] = [];
// The servers go with this process, however it ends.
process.on('exit', () => children.forEach((child) => child.kill()));

async function serve(script: string, env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  // The server gets core 1 to itself; this process (the load) stays on core 0.
  const child = spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', script], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (
      await fetch(`http://127.0.0.1:${port}/user/info`).then(
        () => true,
        () => false,
      )
    )
      return { port, child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${script} did not start`);
}

/** User + system CPU time of a process so far, in microseconds (from /proc: clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const REQUESTS_PER_ROUND = 20_000;

async function cpuPerRequest(server: { child: ChildProcess }, target: autocannon.Options): Promise<number> {
  const before = cpuMicros(server.child.pid!);
  const result = await autocannon({ ...target, amount: REQUESTS_PER_ROUND, connections: 10 });
  return (cpuMicros(server.child.pid!) - before) / result.requests.total;
}

const load = (opts: autocannon.Options) => autocannon({ duration: DURATION_S, connections: 10, ...opts });

async function main() {
  // 1. jsonwebtoken with a string secret (a KeyObject made per call) against a KeyObject made once.
  const token = jwt.sign({ sub: 'a', name: 'A', sid: 's' }, config.secrets.access, { algorithm: 'HS256', expiresIn: 600 });
  const rounds = 20_000;
  verifyCost(config.secrets.access, token, 2000);
  const stringCost = verifyCost(config.secrets.access, token, rounds);
  const keyCost = verifyCost(createSecretKey(Buffer.from(config.secrets.access)), token, rounds);

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

  // 3. The logged-in info page against a bare Express render of the same view.
  const jwtUtil = createJwtUtil(config.secrets, config.accessTtlMs);
  const cookie = `__Host-accessToken=${jwtUtil.accessSign({ sub: 'bench_user', name: 'Bench', sid: 'sid' })}`;
  // Logs on, as in production (one line per request, to a discarded stdout).
  const secrets = {
    ACCESS_TOKEN_SECRET: config.secrets.access,
    REFRESH_TOKEN_SECRET: config.secrets.refresh,
    COOKIE_SECRET: config.secrets.cookie,
    TOTP_ENCRYPTION_KEY: config.secrets.totp,
  };
  const env = { NODE_ENV: 'production', LOG_LEVEL: 'info', ...secrets };
  const site = await serve('server.ts', env);
  const bare = await serve('bench/bare.ts', env);
  const infoPage = (port: number) => ({ url: `http://127.0.0.1:${port}/user/info`, headers: { cookie } });
  await load({ ...infoPage(site.port), duration: 1 });
  await load({ ...infoPage(bare.port), duration: 1 });
  // CPU time the server process spends per request (not requests per second, which the load generator sharing
  // the two cores blurs), in interleaved rounds so that a passing disturbance hits both sides alike.
  const oursCpu: number[] = [];
  const bareCpu: number[] = [];
  for (let round = 0; round < 3; round++) {
    bareCpu.push(await cpuPerRequest(bare, infoPage(bare.port)));
    oursCpu.push(await cpuPerRequest(site, infoPage(site.port)));
  }
  bare.child.kill();

  // 4. The info page alone, then during a storm of logins (argon2 on the thread pool).
  const stores = openStores(config, createLogger('silent'));
  const id = `bench_${randomBytes(4).toString('hex')}`;
  const password = 'bench password that is long';
  await createUserModel(stores.db).create({ id, name: 'Bench', passwordHash: await passwords.hash(password) });
  const page = await fetch(`http://127.0.0.1:${site.port}/user/login`);
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
  const csrfCookie = page.headers
    .getSetCookie()
    .find((c) => c.startsWith('__Host-csrf='))!
    .split(';')[0];
  const alone = await load(infoPage(site.port));
  const [during, storm] = await Promise.all([
    load(infoPage(site.port)),
    load({
      url: `http://127.0.0.1:${site.port}/user/login`,
      method: 'POST',
      connections: 8,
      headers: { cookie: csrfCookie, 'x-csrf-token': csrfToken, 'content-type': 'application/x-www-form-urlencoded' },
      body: `id=${id}&password=${encodeURIComponent(password)}`,
    }),
  ]);
  site.child.kill('SIGTERM');
  await stores.db.execute('DELETE FROM users WHERE id = ?', [id]);
  await closeStores(stores);

  const rows: Row[] = [
    ['jwt verify, string secret', stringCost.toFixed(1), 'µs/verify', ''],
    ['jwt verify, KeyObject made once', keyCost.toFixed(1), 'µs/verify', `${(stringCost / keyCost).toFixed(1)}× faster`],
    ['password check, wrong password', wrongPasswordMs.toFixed(1), 'ms', ''],
    ['password check, unknown id (dummy hash)', unknownIdMs.toFixed(1), 'ms', `${(unknownIdMs / wrongPasswordMs).toFixed(2)}× the wrong password`],
    ['info page server CPU, bare Express render (median of 3)', median(bareCpu).toFixed(0), 'µs/request', ''],
    [
      'info page server CPU, login-page (median of 3)',
      median(oursCpu).toFixed(0),
      'µs/request',
      `throughput ${(median(bareCpu) / median(oursCpu)).toFixed(2)}× the bare render's`,
    ],
    ['info page p99 latency, alone', String(alone.latency.p99), 'ms', ''],
    ['info page p99 latency, during a login storm (HASH_CONCURRENCY=1)', String(during.latency.p99), 'ms', ''],
    ['logins during the storm', storm.requests.average.toFixed(0), 'logins/s', outcomes(storm, 303, 'logins')],
  ];
  printTable(['measure', 'value', 'unit', 'compared / outcome'], rows);
}

type Row = [measure: string, value: string, unit: string, compared: string];

/** Columns padded to their widest cell; values right-aligned. */
function printTable(header: Row, rows: Row[]): void {
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const pad = (cell: string, column: number) => (column === 1 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]));
  const line = (row: Row) => row.map(pad).join('  ').trimEnd();
  console.log([line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n'));
}

/** "17 of 63 logins failed: 429 ×12, 503 ×5": every status but the expected one, and requests with no response. */
function outcomes(result: autocannon.Result, expected: number, what: string): string {
  const byStatus = Object.entries(result.statusCodeStats ?? {}).map(([status, { count = 0 }]) => [status, count] as const);
  const failed = [...byStatus.filter(([status]) => Number(status) !== expected), ...(result.errors ? [['no response', result.errors] as const] : [])];
  const failedCount = failed.reduce((sum, [, count]) => sum + count, 0);
  const total = result.requests.total + result.errors;
  if (!failedCount) return `all ${total} ${what} answered ${expected}`;
  return `${failedCount} of ${total} ${what} failed: ${failed.map(([status, count]) => `${status} ×${count}`).join(', ')}`;
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).message} (has npm run setup run?)`);
  process.exit(1);
}
