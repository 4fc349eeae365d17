// The bench's processes: servers started on free ports, their CPU time read from /proc, and the load.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import autocannon from 'autocannon';
import { freePort } from '../test/helpers/freePort.js';

export interface Server {
  port: number;
  child: ChildProcess;
  url: (path: string) => string;
}

const children: ChildProcess[] = [];
// The servers go with this process, however it ends.
process.on('exit', () => children.forEach((child) => child.kill()));

/** Starts `script` (tsx) with `env`; `cores` pins it (taskset), e.g. '1' leaves core 0 to the load; `cwd` another checkout. */
export async function serve(script: string, env: Record<string, string>, cores?: string, cwd?: string): Promise<Server> {
  const port = await freePort();
  const command = [process.execPath, '--import', 'tsx', script];
  const [file, ...args] = cores ? ['taskset', '-c', cores, ...command] : command;
  const child = spawn(file, args, { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'], cwd });
  children.push(child);
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  for (let attempt = 0; attempt < 150; attempt++) {
    if (
      await fetch(url('/user/info')).then(
        (res) => res.ok,
        () => false,
      )
    )
      return { port, child, url };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${script} did not start`);
}

export async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** User + system CPU time of a process and its children (a cluster's workers) so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const ticks = (id: number) => {
    const fields = readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children].reduce((sum, id) => sum + ticks(id), 0) * 10_000; // clock ticks of 10 ms
}

/** How long the main thread (the event loop) of `pid` has waited for a core so far, runnable but not run (ms). */
export function runQueueWaitMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
}

/** 4 seconds of load, or `amount` requests. */
export const load = (opts: autocannon.Options) => autocannon({ connections: 10, ...(opts.amount ? {} : { duration: 4 }), ...opts });

/** Server CPU time per request over `amount` requests (not requests per second, which a shared core blurs). */
export async function cpuPerRequest(server: Server, target: autocannon.Options, amount: number, status = 200): Promise<number> {
  const before = cpuMicros(server.child.pid!);
  const result = await autocannon({ connections: 10, ...target, amount });
  const answered = result.statusCodeStats?.[String(status) as keyof typeof result.statusCodeStats]?.count ?? 0;
  if (answered < amount) throw new Error(`${target.url}: ${outcomes(result, status, 'requests')}`);
  return (cpuMicros(server.child.pid!) - before) / answered;
}

/** Each request takes the next of `cookies` (sessions that can be used once). */
export function oneCookieEach(cookies: string[]): Pick<autocannon.Options, 'requests' | 'amount'> {
  let next = 0;
  return { amount: cookies.length, requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length] } }) }] };
}

/** "17 of 63 logins failed: 429 ×12, 503 ×5": every status but the expected one, and requests with no response. */
export function outcomes(result: autocannon.Result, expected: number, what: string): string {
  const byStatus = Object.entries(result.statusCodeStats ?? {}).map(([status, { count = 0 }]) => [status, count] as const);
  const failed = [...byStatus.filter(([status]) => Number(status) !== expected), ...(result.errors ? [['no response', result.errors] as const] : [])];
  const failedCount = failed.reduce((sum, [, count]) => sum + count, 0);
  const total = result.requests.total + result.errors;
  if (!failedCount) return `all ${total} ${what} answered ${expected}`;
  return `${failedCount} of ${total} ${what} failed: ${failed.map(([status, count]) => `${status} ×${count}`).join(', ')}`;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * `rate` requests a second for `seconds`, each sent on time whatever the answers before it (no coordinated
 * omission), over keep-alive connections; each one's latency in ms, from its sending to its whole answer. The first
 * second only opens the connections and is not counted.
 */
export async function steadyLatencies(url: string, headers: Record<string, string>, rate: number, seconds: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  const latencies: number[] = [];
  const answers: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < rate * (seconds + 1); i++) {
    const due = started + (i * 1000) / rate;
    if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
    const sent = performance.now();
    answers.push(
      new Promise((resolve, reject) =>
        http
          .get(url, { agent, headers }, (res) =>
            res
              .resume()
              .on('end', () =>
                res.statusCode === 200 ? resolve(i >= rate && latencies.push(performance.now() - sent)) : reject(new Error(`${url}: ${res.statusCode}`)),
              ),
          )
          .on('error', reject),
      ).then(() => undefined),
    );
  }
  await Promise.all(answers);
  agent.destroy();
  return latencies;
}

/** The `p`th percentile (0–100) of `values`. */
export const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))];
