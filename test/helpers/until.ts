import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` every few ms until it holds; resolves with how long that took, throws after `limitMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 5000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} ms: ${what}`);
    await sleep(5);
  }
  return Date.now() - started;
}
