import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import dotenv from 'dotenv';
import { connectAdmin } from '../scripts/lib/adminDb.js';
import { loadConfig } from '../src/config/index.js';
import type { MysqlTarget } from '../scripts/lib/mysqlUrl.js';
import { canLogIn, dropProvisioned, NEW_ACCOUNT_MARK, provisionCheckout, provisionDatabase } from '../scripts/lib/provision.js';
import { runId } from './helpers/stores.js';

const run = promisify(execFile);

/** Runs a function of setup's helpers in bash; resolves with its exit code and output. */
async function setupHelper(...args: string[]): Promise<{ code: number; output: string }> {
  const script = 'source scripts/lib/setup-lib.sh; "$@"';
  try {
    const { stdout, stderr } = await run('bash', ['-c', script, 'setup-test', ...args]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    return { code, output: stdout + stderr };
  }
}

describe('npm run setup', function () {
  this.timeout(20_000);

  it('never runs a host from DATABASE_URL or REDIS_URL as a command', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lp-setup-'));
    try {
      const planted = path.join(dir, 'ran');
      const url = `mysql://u:p@x;touch ${planted};true:3306/db`;
      const host = await setupHelper('url_host', url, 'DATABASE_URL');
      expect(host.code).to.not.equal(0);
      expect(host.output).to.include('the host in DATABASE_URL is not a host name or an IP address');
      expect((await setupHelper('answers', `x;touch ${planted};true`, '1')).code).to.not.equal(0);
      expect(existsSync(planted)).to.equal(false);
      expect((await setupHelper('url_host', 'redis://[::1]:6379/0', 'REDIS_URL')).output).to.equal('::1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('an account that another checkout uses with another password', () => {
    const host = process.env.TEST_MYSQL_HOST ?? '127.0.0.1';
    const port = Number(process.env.TEST_MYSQL_PORT ?? 3306);
    const theirs: MysqlTarget = { host, port, user: `lps_${runId}`.slice(0, 24), password: 'their-password-1', database: `lps_${runId}` };
    const ours = { ...theirs, password: 'our-fresh-password-2' };
    const made: MysqlTarget[] = [];
    const admin = () => connectAdmin(host, port);

    beforeEach(async () => {
      const conn = await admin();
      await provisionDatabase(conn, theirs);
      await conn.end();
      made.push(theirs);
    });
    afterEach(async () => {
      const conn = await admin();
      for (const target of made.splice(0)) await dropProvisioned(conn, target);
      await conn.end();
    });

    it('a checkout whose .env was just written gets an account and database of its own; theirs keeps working', async () => {
      const conn = await admin();
      const done = await provisionCheckout(conn, ours, { freshEnv: true, checkoutId: 'c0ffee00' }).finally(() => conn.end());
      made.push(done.target);
      expect(done.target).to.include({ user: `${theirs.user}_c0ffee00`, database: `${theirs.database}_c0ffee00`, password: ours.password });
      expect(done.note).to.include(`uses account and database ${theirs.user}_c0ffee00`);
      expect(await canLogIn(theirs)).to.equal(true);
      expect(await canLogIn(done.target)).to.equal(true);
    });

    it('otherwise the password is reset, and setup says so in one line', async () => {
      const conn = await admin();
      const done = await provisionCheckout(conn, ours, { freshEnv: false, checkoutId: 'c0ffee00' }).finally(() => conn.end());
      expect(done.target).to.equal(ours);
      expect(done.note).to.match(/^reset the password of account lps_\w+ to the one DATABASE_URL names/);
      expect(await canLogIn(ours)).to.equal(true);
      expect(await canLogIn(theirs)).to.equal(false);
    });

    it('provision-db: a .env that setup wrote gets an account of its own, keeps it on the next run, and loses the mark', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'lp-checkout-'));
      const runProvision = () =>
        run(path.resolve('node_modules/.bin/tsx'), [path.resolve('scripts/provision-db.ts')], { cwd: dir, env: { ...process.env, DATABASE_URL: undefined } });
      try {
        const url = `mysql://${ours.user}:${ours.password}@${host}:${port}/${ours.database}`;
        writeFileSync(path.join(dir, '.env'), `DATABASE_URL=${url}\n${NEW_ACCOUNT_MARK}\n`);
        const first = await runProvision();
        const suffix = createHash('sha256').update(realpathSync(dir)).digest('hex').slice(0, 8);
        const own = { ...ours, user: `${ours.user}_${suffix}`, database: `${ours.database}_${suffix}` };
        made.push(own);
        expect(first.stdout).to.include(`setup: account ${ours.user} is in use with another password`);
        const env = readFileSync(path.join(dir, '.env'), 'utf8');
        expect(env).to.include(`DATABASE_URL=mysql://${own.user}:${ours.password}@${host}:${port}/${own.database}`);
        expect(env).not.to.include(NEW_ACCOUNT_MARK);
        // Its Redis keys are its own too: the other checkout keeps the default prefix.
        expect(env).to.include(`REDIS_KEY_PREFIX=lp:${suffix}:`);
        const prefixOf = (text: string) => loadConfig({ ...dotenv.parse(text), NODE_ENV: 'development' }).redisKeyPrefix;
        expect([prefixOf(env), prefixOf(`DATABASE_URL=mysql://${theirs.user}:x@${host}/${theirs.database}\n`)]).to.deep.equal([`lp:${suffix}:`, 'lp:']);
        const second = await runProvision();
        expect(second.stdout).not.to.include('setup:');
        expect(readFileSync(path.join(dir, '.env'), 'utf8')).to.equal(env);
        expect(await canLogIn(theirs)).to.equal(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the same password changes nothing and says nothing', async () => {
      const conn = await admin();
      const done = await provisionCheckout(conn, theirs, { freshEnv: true, checkoutId: 'c0ffee00' }).finally(() => conn.end());
      expect(done).to.deep.equal({ target: theirs });
    });
  });
});
