import argon2 from 'argon2';
import PQueue from 'p-queue';
import { HttpError } from './httpError.js';

// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

// A hash (with OPTIONS) of a random secret nobody kept: checking an unknown id against it costs what a real check costs.
export const DUMMY_HASH = '$argon2id$v=19$m=19456,p=1,t=2$YcPhOy56FoSg7I0UXFsjfQ$zn7d657t3uK5vjYQGht3ZvAgWvtCrUgb8hBk9fLUPoo';

/** How long a hash may wait for a free slot before its request gets 503. */
export const HASH_WAIT_MS = 2_000;
const busy = () => new HttpError(503, 'error.busy', { headers: { 'Retry-After': String(HASH_WAIT_MS / 1000) } });

/** argon2 operations in this process: running now, the most ever at once, and how many ever started. */
export const hashStats = { now: 0, peak: 0, started: 0 };

export type Passwords = ReturnType<typeof createPasswords>;

/** Hashing and verifying, at most `concurrency` at once; the rest wait in a queue for up to HASH_WAIT_MS. */
export function createPasswords(concurrency: number) {
  const queue = new PQueue({ concurrency });

  /** Runs `work` in a slot; a wait past HASH_WAIT_MS, or a client that hung up meanwhile, is 503 without the work. */
  function inSlot<T>(work: () => Promise<T>, clientGone?: AbortSignal): Promise<T> {
    const waiting = new AbortController();
    const giveUp = () => waiting.abort(busy());
    const timer = setTimeout(giveUp, HASH_WAIT_MS);
    clientGone?.addEventListener('abort', giveUp);
    if (clientGone?.aborted) giveUp();
    // Once started the task must not be aborted: p-queue would free its slot while argon2 still runs.
    const stopWaiting = () => (clearTimeout(timer), clientGone?.removeEventListener('abort', giveUp));
    const task = async () => {
      stopWaiting();
      hashStats.started++;
      hashStats.peak = Math.max(hashStats.peak, ++hashStats.now);
      try {
        return await work();
      } finally {
        hashStats.now--;
      }
    };
    return queue.add(task, { signal: waiting.signal }).finally(stopWaiting);
  }

  return {
    hash: (password: string, clientGone?: AbortSignal): Promise<string> => inSlot(() => argon2.hash(password, OPTIONS), clientGone),

    /** True when `password` matches `hash`; with no hash it does the same work and returns false. */
    async verify(hash: string | undefined, password: string, clientGone?: AbortSignal): Promise<boolean> {
      const matches = await inSlot(() => argon2.verify(hash ?? DUMMY_HASH, password), clientGone);
      return matches && hash !== undefined;
    },
  };
}

export const needsRehash = (hash: string): boolean => argon2.needsRehash(hash, OPTIONS);
