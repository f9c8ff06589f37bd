import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { isFinalRunStatus, type Logger, type RunStore } from '@reins/shared';
import { git, gitOutput } from './git.js';

/**
 * Removes member worktrees and clones (under <data dir>/worktrees/<run>/<member>) of runs that ended more than
 * `retentionMs` ago, and of runs Redis does not know at all (orphans). Branches stay: only the checked-out
 * copies go. Returns the folders removed.
 */
export async function sweepWorktrees(dataDir: string, store: RunStore, retentionMs: number, logger: Logger, now = Date.now()): Promise<string[]> {
  const root = path.join(dataDir, 'worktrees');
  const removed: string[] = [];
  for (const runId of await readdir(root).catch(() => [] as string[])) {
    const run = await store.getRun(runId);
    const expired = run !== undefined && isFinalRunStatus(run.status) && run.endedAt !== undefined && now - run.endedAt > retentionMs;
    if (run !== undefined && !expired) continue;
    for (const member of await readdir(path.join(root, runId)).catch(() => [] as string[])) {
      const dir = path.join(root, runId, member);
      // A worktree's repository forgets it too. A member's clone (repo-clone.ts) is the agent's: no git runs in it.
      const worktree = (await lstat(path.join(dir, '.git')).catch(() => undefined))?.isFile() === true;
      const common = worktree ? await gitOutput(dir, ['rev-parse', '--path-format=absolute', '--git-common-dir']) : undefined;
      if (common !== undefined) await git(root, ['--git-dir', common, 'worktree', 'remove', '--force', dir], { reject: false });
      await rm(dir, { recursive: true, force: true });
      if (common !== undefined) await git(root, ['--git-dir', common, 'worktree', 'prune'], { reject: false });
      removed.push(dir);
    }
    await rm(path.join(root, runId), { recursive: true, force: true });
    logger.info({ runId, reason: run ? 'retention' : 'orphaned' }, 'removed worktrees');
  }
  return removed;
}
