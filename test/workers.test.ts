import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { freePort } from './helpers/freePort.js';
import { requestInFlight, tryConnect } from './helpers/inFlight.js';
import { SECRETS } from './helpers/site.js';
import { REDIS_URL, testStores } from './helpers/stores.js';

describe('WEB_CONCURRENCY=2: a primary and two workers (node:cluster)', function () {
  this.timeout(60_000);
  let child: ChildProcessWithoutNullStreams;
  let port: number;
  const lines: Record<string, unknown>[] = [];
  let exited: Promise<unknown[]>;

  /** Waits until `count` log lines match, and returns them. */
  async function logged(match: (line: Record<string, unknown>) => boolean, count = 1) {
    for (let i = 0; lines.filter(match).length < count; i++) {
      if (i > 600) throw new Error(`not logged in time; log so far:\n${lines.map((line) => JSON.stringify(line)).join('\n')}`);
      await sleep(50);
    }
    return lines.filter(match);
  }
  const listening = (line: Record<string, unknown>) => String(line.msg).includes('listening') && line.pid !== child.pid;

  /** A request on a connection of its own (no keep-alive: each may go to another worker); the pid that served it, from the log. */
  async function servedBy(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } });
    expect(res.status).to.equal(200);
    const requestId = res.headers.get('x-request-id');
    const [line] = await logged((entry) => (entry.req as { id?: string } | undefined)?.id === requestId);
    return line.pid as number;
  }

  before(async () => {
    const { databaseUrl } = await testStores();
    port = await freePort();
    // Production logs JSON lines, each with the pid of the process that wrote it.
    const env = {
      ...process.env,
      ...SECRETS,
      NODE_ENV: 'production',
      WEB_CONCURRENCY: '2',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      LOG_LEVEL: 'info',
    };
    child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env });
    exited = once(child, 'exit');
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (pending + chunk.toString()).split('\n');
      pending = parts.pop()!;
      lines.push(...parts.filter(Boolean).map((part) => JSON.parse(part) as Record<string, unknown>));
    });
    await logged(listening, 2);
  });
  const primaryLine = (msg: string) => (line: Record<string, unknown>) => line.pid === child.pid && String(line.msg).includes(msg);
  after(() => child.kill('SIGKILL'));

  it('serves requests from two worker processes, not from the primary, which says where the site is', async () => {
    const [primary] = await logged(primaryLine('listening'));
    expect(primary).to.include({ msg: `login-page listening on http://localhost:${port}`, port, workers: 2 });
    const workers = new Set((await logged(listening, 2)).map((line) => line.pid));
    expect(workers.size).to.equal(2);
    expect(workers).to.not.include(child.pid);
    const served = new Set<number>();
    for (let i = 0; i < 20 && served.size < 2; i++) served.add(await servedBy());
    expect([...served].sort()).to.deep.equal([...workers].sort());
  });

  it('a worker that dies is replaced, and the site keeps answering meanwhile', async () => {
    const [victim] = (await logged(listening, 2)).map((line) => line.pid as number);
    process.kill(victim, 'SIGKILL');
    const [died] = await logged((line) => line.workerPid === victim);
    expect(died.pid).to.equal(child.pid);
    for (let i = 0; i < 5; i++) expect(await servedBy()).to.not.equal(victim);
    const [replacement] = (await logged(listening, 3)).slice(2);
    expect(replacement.pid).to.not.equal(victim);
    const served = new Set<number>();
    for (let i = 0; i < 20 && served.size < 2; i++) served.add(await servedBy());
    expect(served.size).to.equal(2);
  });

  it('a worker that dies young waits longer before its replacement than the one before it (no tight loop)', async () => {
    const [first] = await logged((line) => line.msg === 'worker died; starting another');
    const young = (await logged(listening, 3))[2].pid as number;
    process.kill(young, 'SIGKILL');
    const [second] = await logged((line) => line.workerPid === young);
    expect(second.restartInMs).to.be.greaterThan(first.restartInMs as number);
    await logged(listening, 4); // two workers again for the next test
  });

  it('SIGTERM to the primary: the workers finish the request in flight, stop accepting, and the primary exits 0', async () => {
    // A request whose body is still on its way when the signal arrives.
    const inFlight = await requestInFlight(port);
    await sleep(200);
    child.kill('SIGTERM');
    await logged((line) => line.msg === 'shutting down', 3); // the primary and both workers
    await sleep(200);
    expect(await tryConnect(port), 'no longer accepting').to.equal('refused');
    expect(await inFlight.finish()).to.match(/^HTTP\/1\.1 403/); // answered in full (no CSRF token), not dropped
    const [code] = await exited;
    expect(code).to.equal(0);
  });
});
