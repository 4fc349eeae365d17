import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import request from 'supertest';
import { POOL_NICE } from '../src/config/threadPool.js';
import { freePort } from './helpers/freePort.js';
import { fetchFormToken, SECRETS, uniqueId, type App } from './helpers/site.js';
import { REDIS_URL, testStores } from './helpers/stores.js';

// libuv's pool size in the site processes (they inherit this environment).
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;

interface Thread {
  tid: number;
  nice: number;
  /** CPU time run so far (ns). */
  cpuNs: number;
}

/** The threads of process `pid` now, from /proc: nice is stat's field 19 (counted from 1, past the `(comm)`). */
function threadsOf(pid: number): Thread[] {
  const threads: Thread[] = [];
  for (const name of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
      const cpuNs = Number(readFileSync(`/proc/${pid}/task/${name}/schedstat`, 'utf8').split(' ')[0]);
      threads.push({ tid: Number(name), nice: Number(fields[19 - 3]), cpuNs });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads;
}

const nicedTids = (pid: number) =>
  threadsOf(pid)
    .filter((thread) => thread.nice === POOL_NICE)
    .map((thread) => thread.tid);

/** Polls until `check` holds (or 10 s pass: the caller's assertion then says what was found). */
async function settle(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !check() && Date.now() < deadline;) await sleep(50);
}

/** server.ts in production (JSON log lines, each with its pid), answering on `port` once /readyz says both stores do. */
async function startSite(webConcurrency: number) {
  const { databaseUrl } = await testStores();
  const port = await freePort();
  const env = {
    ...process.env,
    ...SECRETS,
    NODE_ENV: 'production',
    WEB_CONCURRENCY: String(webConcurrency),
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    LOG_LEVEL: 'info',
    LOGIN_IP_MAX_FAILURES: '1000000',
  };
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env });
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop()!;
    lines.push(...parts.filter(Boolean).map((part) => JSON.parse(part) as Record<string, unknown>));
  });
  child.stderr.resume();
  const base = `http://127.0.0.1:${port}`;
  // Pool threads niced by the time the site first answered anything (a primary's are its first worker's).
  let nicedAtFirstAnswer: number | undefined;
  for (const deadline = Date.now() + 30_000; ; await sleep(10)) {
    const ready = await fetch(`${base}/readyz`).then(
      (res) => {
        nicedAtFirstAnswer ??= webConcurrency === 1 ? nicedTids(child.pid!).length : undefined;
        return res.status === 200;
      },
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the site did not become ready; its log:\n${JSON.stringify(lines)}`);
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
  };
  return { child, pid: child.pid!, base, lines, stop, nicedAtFirstAnswer };
}

describe(`libuv's thread pool at nice ${POOL_NICE} (argon2 yields the core to the event loop)`, function () {
  this.timeout(60_000);
  before(function () {
    if (!existsSync('/proc/self/task')) this.skip(); // Linux only: elsewhere the site leaves priorities alone
  });

  it("tells the pool from a thread busy on its own (a logger's worker): the busy one keeps its priority, all 4 of the pool are found", async () => {
    // Killed after 20 s whatever happens: its worker spins a core until the process ends.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/probeBesideBusyThread.ts'], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '4' },
      timeout: 20_000,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.resume();
    await once(child, 'exit');
    const { busyTid, pool, main } = JSON.parse(output) as { busyTid: number; pool: number[]; main: number };
    expect(pool, output).to.have.length(4);
    expect(pool).to.not.include(busyTid).and.not.include(main);
  });

  describe('one site process (WEB_CONCURRENCY=1)', () => {
    let site: Awaited<ReturnType<typeof startSite>>;
    before(async () => {
      site = await startSite(1);
      // The log is written 4 kB at a time or every second.
      await settle(() => nicedTids(site.pid).length >= POOL_SIZE && site.lines.some((line) => String(line.msg).startsWith('thread pool')));
    });
    after(() => site?.stop());

    it('answers its first request only once the pool is niced (a hash under way would hide its thread from the probe)', () => {
      expect(site.nicedAtFirstAnswer).to.equal(POOL_SIZE);
    });

    it(`has exactly ${POOL_SIZE} threads at nice ${POOL_NICE}, its main thread (the event loop) at nice 0, and says so`, () => {
      const threads = threadsOf(site.pid);
      expect(nicedTids(site.pid), `threads: ${JSON.stringify(threads)}`).to.have.length(POOL_SIZE);
      expect(threads.find((thread) => thread.tid === site.pid)?.nice).to.equal(0);
      expect(threads.filter((thread) => thread.nice !== POOL_NICE).every((thread) => thread.nice === 0)).to.equal(true);
      expect(site.lines.map((line) => line.msg)).to.include(`thread pool at nice ${POOL_NICE}: ${POOL_SIZE} threads`);
    });

    it('verifies a password (argon2) on a niced thread: a login for an unknown id through the real form', async () => {
      const niced = nicedTids(site.pid);
      // supertest takes the site's URL where the helper's type says app.
      const csrf = await fetchFormToken(site.base as unknown as App);
      const login = () =>
        request(site.base)
          .post('/user/login')
          .set('Cookie', csrf.cookie)
          .set('x-csrf-token', csrf.token)
          .type('form')
          .send({ id: uniqueId(), password: 'not the password at all' });
      expect((await login()).status).to.equal(401); // once first: whatever a first login does only once is done

      const before = new Map(threadsOf(site.pid).map((thread) => [thread.tid, thread.cpuNs]));
      expect((await login()).status).to.equal(401);
      const grown = threadsOf(site.pid)
        .map((thread) => ({ ...thread, grewNs: thread.cpuNs - (before.get(thread.tid) ?? 0) }))
        .sort((a, b) => b.grewNs - a.grewNs);
      expect(niced, `growth per thread during the login: ${JSON.stringify(grown)}`).to.include(grown[0].tid);
    });
  });

  describe('a primary and two workers (WEB_CONCURRENCY=2)', () => {
    let site: Awaited<ReturnType<typeof startSite>>;
    let workers: number[];
    before(async () => {
      site = await startSite(2);
      const said = () => site.lines.filter((line) => String(line.msg).startsWith('thread pool') && line.pid !== site.pid);
      await settle(() => said().length >= 2);
      workers = said().map((line) => line.pid as number);
    });
    after(() => site?.stop());

    it(`each worker has its ${POOL_SIZE} pool threads at nice ${POOL_NICE} and its event loop at nice 0; the primary leaves its own alone`, () => {
      expect(workers, `log: ${JSON.stringify(site.lines)}`).to.have.length(2);
      for (const worker of workers) {
        expect(nicedTids(worker), `worker ${worker}: ${JSON.stringify(threadsOf(worker))}`).to.have.length(POOL_SIZE);
        expect(threadsOf(worker).find((thread) => thread.tid === worker)?.nice).to.equal(0);
      }
      expect(nicedTids(site.pid), 'the primary').to.deep.equal([]);
      expect(site.lines.filter((line) => line.pid === site.pid && String(line.msg).startsWith('thread pool'))).to.deep.equal([]);
    });
  });
});
