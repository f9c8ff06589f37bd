import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { IntegrateJobData, IntegrationResult } from '@reins/shared';
import { memberBranch } from './workspace.js';


const IDENTITY = { GIT_AUTHOR_NAME: 'reins', GIT_AUTHOR_EMAIL: 'reins@localhost', GIT_COMMITTER_NAME: 'reins', GIT_COMMITTER_EMAIL: 'reins@localhost' };

/**
 * Merges the members' branches, in dependency order, into reins/<run>/result, which starts at the run's base
 * commit. It works in a worktree of its own, so the repository's own branches and working tree are never
 * touched. A branch that conflicts is left out (its merge aborted) and reported with the conflicting files.
 */
export async function integrate(job: IntegrateJobData, dataDir: string): Promise<IntegrationResult> {
  const git = (cwd: string, args: readonly string[], reject = true) => execa('git', ['-C', cwd, ...args], { env: IDENTITY, reject, stdin: 'ignore' });
  const resultBranch = `reins/${job.runId}/result`;
  const dir = path.join(dataDir, 'worktrees', job.runId, '_result');
  await git(job.workdir, ['worktree', 'prune']);
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  await git(job.workdir, ['worktree', 'add', '-B', resultBranch, dir, job.baseCommit]);
  const conflicts: IntegrationResult['conflicts'] = [];
  try {
    for (const member of job.members) {
      const branch = memberBranch(job.runId, member);
      if ((await git(dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], false)).exitCode !== 0) continue;
      const merged = await git(dir, ['merge', '--no-ff', '--no-edit', '-m', `reins: merge ${member} into ${resultBranch}`, branch], false);
      if (merged.exitCode === 0) continue;
      const files = (await git(dir, ['diff', '--name-only', '--diff-filter=U'], false)).stdout.split('\n').filter(Boolean);
      await git(dir, ['merge', '--abort'], false);
      conflicts.push({ member, files });
    }
    const resultCommit = (await git(dir, ['rev-parse', 'HEAD'])).stdout.trim();
    return { resultBranch, resultCommit, conflicts };
  } finally {
    await git(job.workdir, ['worktree', 'remove', '--force', dir], false);
  }
}
