import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { parseJob, type IntegrateJobData, type IntegrationResult, type Logger, type RunStore } from '@reins/shared';
import { git as runGit } from './git.js';
import { ensureCommit, fetchRefs, openMirror, withMirror } from './mirror.js';
import { pushRef } from './push.js';
import { remoteMemberRef } from './repo-clone.js';
import { memberBranch } from './worktree.js';

/**
 * Merges the members' branches, in dependency order, into reins/<run>/result, which starts at the run's base
 * commit. It works in a worktree of its own, so the repository's own branches and working tree are never
 * touched. A branch that conflicts is left out (its merge aborted) and reported with the conflicting files.
 * With a repo, any worker does it from the remote: it fetches the member branches into its mirror, merges
 * them, and pushes the result.
 */
export async function integrate(job: IntegrateJobData, dataDir: string): Promise<IntegrationResult> {
  const git = (cwd: string, args: readonly string[], reject = true) => runGit(cwd, args, { reject });
  const resultBranch = `reins/${job.runId}/result`;
  const dir = path.join(dataDir, 'worktrees', job.runId, '_result');
  const mirror = job.repo ? await openMirror(dataDir, job.repo.url) : undefined;
  const repoDir = mirror?.dir ?? job.workdir;
  if (repoDir === undefined) throw new UnrecoverableError(`merge-back of ${job.runId} names neither a workdir nor a repo`);
  // The remote's copy of a member branch, or the workdir's own.
  const branchRef = (member: string) => (mirror ? remoteMemberRef(job.runId, member) : `refs/heads/${memberBranch(job.runId, member)}`);
  if (mirror) {
    // Every member branch of the run as the remote has it now, and the base.
    await withMirror(mirror, () => fetchRefs(mirror, [`+refs/heads/reins/${job.runId}/*:refs/remotes/origin/reins/${job.runId}/*`]));
    if (!(await ensureCommit(mirror, job.baseCommit))) throw new Error(`the run's base commit ${job.baseCommit} is not on ${mirror.url}`);
  }
  await git(repoDir, ['worktree', 'prune']);
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  await git(repoDir, ['worktree', 'add', '--quiet', '-B', resultBranch, dir, job.baseCommit]);
  const conflicts: IntegrationResult['conflicts'] = [];
  try {
    for (const member of job.members) {
      const branch = branchRef(member);
      if ((await git(dir, ['rev-parse', '--verify', '--quiet', branch], false)).exitCode !== 0) continue;
      const merged = await git(dir, ['merge', '--no-ff', '--no-edit', '-m', `reins: merge ${member} into ${resultBranch}`, branch], false);
      if (merged.exitCode === 0) continue;
      const files = String((await git(dir, ['diff', '--name-only', '--diff-filter=U'], false)).stdout)
        .split('\n')
        .filter(Boolean);
      await git(dir, ['merge', '--abort'], false);
      conflicts.push({ member, files });
    }
    const resultCommit = String((await git(dir, ['rev-parse', 'HEAD'])).stdout).trim();
    if (mirror) {
      const pushed = await pushRef(mirror, resultCommit, `refs/heads/${resultBranch}`);
      if (!pushed.ok) throw new UnrecoverableError(`the remote refused ${resultBranch}: ${pushed.refused}; the commit ${resultCommit} is kept in ${mirror.dir}`);
    }
    return { resultBranch, resultCommit, conflicts };
  } finally {
    await git(repoDir, ['worktree', 'remove', '--force', dir], false);
  }
}

/** A merge-back job: it takes no agent slot (its own consumer, one at a time), and no agent runs. */
export async function mergeBackJob(job: Job, store: RunStore, dataDir: string, logger: Logger): Promise<IntegrationResult> {
  const data = parseJob('run.integrate', job);
  const result = await integrate(data, dataDir);
  await store.recordIntegration(data.runId, result);
  logger.info({ runId: data.runId, ...result }, result.conflicts.length > 0 ? 'merged with conflicts' : "merged the members' branches");
  return result;
}
