import { pbkdf2 } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

// argon2 (node-argon2) hashes on libuv's thread pool: during a login storm those threads would take the core the
// event loop needs to answer every other page. At nice 10 they get a tenth of a core the event loop keeps busy.
// Measured on 2 cores against nice 19: during a storm the event loop waits for its core about as long (within the
// noise), and a login during a page flood takes 0.5 s instead of 2.3 s (the next in line waited past HASH_WAIT_MS).
export const POOL_NICE = 10;

const TASKS = '/proc/self/task';
// One job of ~20-30 ms of CPU per pool thread: long enough that every idle thread takes one before any finishes.
const JOB_ITERATIONS = 50_000;
const ROUNDS = 3;
const job = promisify(pbkdf2);

/** What lowerThreadPoolPriority did: the threads it niced of `size`, or why it did nothing. */
export type PoolPriority = { threads: number[]; size: number; failure?: string } | { unsupported: true };

/**
 * Puts libuv's thread-pool threads of this process at POOL_NICE (Linux; elsewhere it does nothing). libuv neither
 * names them nor lets them inherit a nice value (the pool is already there when this runs), so they are told apart
 * by their work: `size` CPU-bound jobs at once, and the `size` threads whose CPU time grew by a job are the pool.
 * Run it before the first request: a hash under way would make its thread look busy on its own. Never rejects.
 */
export async function lowerThreadPoolPriority(size = Number(process.env.UV_THREADPOOL_SIZE) || 4): Promise<PoolPriority> {
  if (!existsSync(TASKS)) return { unsupported: true };
  try {
    const threads = await findPoolThreads(size);
    for (const tid of threads) setPriority(tid, POOL_NICE);
    return { threads, size };
  } catch (err) {
    return { threads: [], size, failure: String((err as Error)?.message ?? err) };
  }
}

/** Says what lowerThreadPoolPriority did (a failure or a partial find is a warning: the site runs on regardless). */
export function reportPoolPriority(outcome: PoolPriority, logger: Pick<Logger, 'info' | 'warn'>): void {
  if ('unsupported' in outcome) return;
  const { threads, size, failure } = outcome;
  if (failure !== undefined) logger.warn({ err: { message: failure } }, 'thread pool left at normal priority');
  else if (threads.length < size)
    logger.warn({ found: threads.length, size }, `thread pool: only ${threads.length} of ${size} threads told apart; those at nice ${POOL_NICE}`);
  else logger.info(`thread pool at nice ${POOL_NICE}: ${threads.length} threads`);
}

async function findPoolThreads(size: number): Promise<number[]> {
  // CPU time run so far by each pool thread found (ns).
  const found = new Map<number, number>();
  for (let round = 0; round < ROUNDS && found.size < size; round++) {
    const started = performance.now();
    const before = cpuTimes();
    await Promise.all(Array.from({ length: size }, () => job('thread pool', 'probe', JOB_ITERATIONS, 32, 'sha256')));
    const during = cpuTimes();
    // As long again without jobs: a thread busy on its own (a logger's worker) runs then too, the pool does not.
    await sleep(performance.now() - started);
    const after = cpuTimes();
    const grown = [...during]
      .filter(([tid]) => tid !== process.pid && before.has(tid))
      .map(([tid, ns]): [number, number] => [tid, ns - before.get(tid)!])
      .sort((a, b) => b[1] - a[1]);
    // The jobs ran on at most `size` threads: their growth over `size` is one job's CPU time. A thread that ran at
    // least half a job, and not a quarter of one without jobs, is the pool's.
    const oneJob = grown.slice(0, size).reduce((sum, [, ns]) => sum + ns, 0) / size;
    const idle = (tid: number) => (after.get(tid) ?? Infinity) - during.get(tid)! < oneJob / 4;
    for (const [tid, ns] of grown) if (oneJob > 0 && ns >= oneJob / 2 && idle(tid)) found.set(tid, (found.get(tid) ?? 0) + ns);
  }
  return [...found]
    .sort((a, b) => b[1] - a[1])
    .slice(0, size)
    .map(([tid]) => tid);
}

/** CPU time run by each thread of this process so far (ns), from the first field of its schedstat. */
function cpuTimes(): Map<number, number> {
  const times = new Map<number, number>();
  for (const name of readdirSync(TASKS)) {
    try {
      times.set(Number(name), Number(readFileSync(`${TASKS}/${name}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  if (times.size === 0) throw new Error(`no thread's schedstat is readable under ${TASKS}`);
  return times;
}
