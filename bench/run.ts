// npm run bench: ratios measured in one run on this machine. See README "Performance".
import { spawn, type ChildProcess } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import dotenv from 'dotenv';
import jwt from 'jsonwebtoken';
import { closeStores, openStores } from '../src/config/clients.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/config/logger.js';
import { createUserModel } from '../src/models/user.js';
import { createJwtUtil } from '../src/utils/jwt.js';
import { hashPassword } from '../src/utils/password.js';
import { freePort } from '../test/helpers/freePort.js';

dotenv.config({ quiet: true });
const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' });
const DURATION_S = 5;

function verifyCost(key: string | ReturnType<typeof createSecretKey>, token: string, rounds: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) jwt.verify(token, key, { algorithms: ['HS256'] });
  return Number(process.hrtime.bigint() - started) / rounds / 1000;
}

async function serve(script: string, env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env, PORT: String(port) }, stdio: 'inherit' });
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await fetch(`http://127.0.0.1:${port}/user/info`).then(() => true, () => false)) return { port, child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${script} did not start`);
}

const load = (opts: autocannon.Options) => autocannon({ duration: DURATION_S, connections: 10, ...opts });

async function main() {
  // 1. jsonwebtoken with a string secret (a KeyObject made per call) against a KeyObject made once.
  const token = jwt.sign({ sub: 'a', name: 'A', sid: 's' }, config.secrets.access, { algorithm: 'HS256', expiresIn: 600 });
  const rounds = 20_000;
  verifyCost(config.secrets.access, token, 2000);
  const stringCost = verifyCost(config.secrets.access, token, rounds);
  const keyCost = verifyCost(createSecretKey(Buffer.from(config.secrets.access)), token, rounds);

  // 2. The logged-in info page against a bare Express render of the same view.
  const jwtUtil = createJwtUtil(config.secrets, config.accessTtlMs);
  const cookie = `__Host-accessToken=${jwtUtil.accessSign({ sub: 'bench_user', name: 'Bench', sid: 'sid' })}`;
  const env = { NODE_ENV: 'production', LOG_LEVEL: 'silent', ...Object.fromEntries(Object.entries({ ACCESS_TOKEN_SECRET: config.secrets.access, REFRESH_TOKEN_SECRET: config.secrets.refresh, COOKIE_SECRET: config.secrets.cookie })) };
  const site = await serve('server.ts', env);
  const bare = await serve('bench/bare.ts', env);
  const infoPage = (port: number) => ({ url: `http://127.0.0.1:${port}/user/info`, headers: { cookie } });
  await load({ ...infoPage(site.port), duration: 1 });
  await load({ ...infoPage(bare.port), duration: 1 });
  const ours = await load(infoPage(site.port));
  const baseline = await load(infoPage(bare.port));
  bare.child.kill();

  // 3. The info page alone, then during a storm of logins (argon2 on the thread pool).
  const stores = openStores(config, createLogger('silent'));
  const id = `bench_${randomBytes(4).toString('hex')}`;
  const password = 'bench password that is long';
  await createUserModel(stores.db).create({ id, name: 'Bench', passwordHash: await hashPassword(password) });
  const page = await fetch(`http://127.0.0.1:${site.port}/user/login`);
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1];
  const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith('__Host-csrf='))!.split(';')[0];
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

  const rows = [
    ['jwt verify, string secret', `${stringCost.toFixed(1)} µs/op`],
    ['jwt verify, KeyObject made once', `${keyCost.toFixed(1)} µs/op`, `${(stringCost / keyCost).toFixed(1)}× faster`],
    ['info page (valid token), bare Express render', `${baseline.requests.average.toFixed(0)} req/s`],
    ['info page (valid token), login-page', `${ours.requests.average.toFixed(0)} req/s`, `${(ours.requests.average / baseline.requests.average).toFixed(2)}× the bare render`],
    ['info page p99 latency, alone', `${alone.latency.p99} ms`],
    ['info page p99 latency, during a login storm', `${during.latency.p99} ms`, `${storm.requests.average.toFixed(0)} logins/s (${storm['3xx']} succeeded with 303, ${storm['4xx'] + storm['5xx']} failed)`],
  ];
  for (const row of rows) console.log(row.join(' | '));
}

await main();
process.exit(0);
