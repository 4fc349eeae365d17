// The build an issue's cost is measured against: BENCH_BASELINE (a commit; default the last one before the
// confirmation state, the listener's heartbeat, the activity record and the outbox), checked out beside this one.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/config/paths.js';

export const BASELINE = process.env.BENCH_BASELINE || 'dcc3552';

const git = (...args: string[]) => execFileSync('git', ['-C', projectRoot, ...args], { encoding: 'utf8' }).trim();

/** A work tree of `commit` with this checkout's node_modules (the baseline's dependencies are a subset); remove() undoes it. */
export function checkOut(commit: string): { dir: string; label: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'login-page-baseline-'));
  git('worktree', 'add', '--detach', '--force', dir, commit);
  if (!existsSync(path.join(dir, 'node_modules'))) symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const label = git('log', '-1', '--format=%h', commit);
  return {
    dir,
    label,
    remove: () => {
      git('worktree', 'remove', '--force', dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
