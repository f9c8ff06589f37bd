import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AgentUser } from '../agent-user.js';
import { git, gitOutput, gitSucceeds, gitTopLevel } from './git.js';

/** Each member works on its own branch of the run. */
export const memberBranch = (runId: string, member: string): string => `reins/${runId}/${member}`;

/** `git worktree add` takes locks in the shared .git folder; two at once on one repo can collide. */
const repoQueues = new Map<string, Promise<unknown>>();
function serialised<T>(repo: string, work: () => Promise<T>): Promise<T> {
  const previous = repoQueues.get(repo) ?? Promise.resolve();
  const next = previous.then(work, work);
  repoQueues.set(
    repo,
    next.catch(() => undefined),
  );
  return next;
}

/**
 * A worktree of `repo` at `dir` on `branch`: the one already there, or a new one. A new branch starts at
 * `baseCommit` (HEAD when not given); an existing branch is checked out as it is.
 */
export function memberWorktree(repo: string, dir: string, branch: string, baseCommit: string | undefined, workdir: string): Promise<void> {
  return serialised(repo, async () => {
    if ((await gitTopLevel(dir)) === dir) return;
    if (!(await gitSucceeds(repo, ['rev-parse', '--verify', '--quiet', 'HEAD']))) {
      throw new Error(`workdir ${workdir} is a git repository without commits; commit once so members can branch from it`);
    }
    await git(repo, ['worktree', 'prune']);
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    const branchExists = await gitSucceeds(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]);
    await git(repo, branchExists ? ['worktree', 'add', dir, branch] : ['worktree', 'add', '-b', branch, dir, baseCommit ?? 'HEAD']);
  });
}

/** `git diff --shortstat` of a member's work since the run's base: "3 files changed, 40 insertions(+)". */
export async function diffStat(workspace: string, baseCommit: string, as?: AgentUser): Promise<string> {
  const stat = await gitOutput(workspace, ['diff', '--shortstat', baseCommit, 'HEAD'], as);
  return stat === undefined ? 'unknown' : stat || 'no changes';
}
