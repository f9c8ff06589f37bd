import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ClassifiedFailure } from '../attempt/retry-error.js';
import { git, gitSucceeds, gitTopLevel } from './git.js';
import { fetchCommit, fetchRefs, withMirror, type Mirror } from './mirror.js';
import { memberBranch } from './worktree.js';

/** Where a member's dependency's work is, in the mirror, once fetched from the remote. */
export const remoteMemberRef = (runId: string, member: string): string => `refs/remotes/origin/${memberBranch(runId, member)}`;

export interface RepoWorktreeRequest {
  mirror: Mirror;
  dir: string;
  runId: string;
  member: string;
  baseCommit: string;
  /** The member's dependencies, in dependency order: their branches are merged where it starts. */
  dependsOn: readonly string[];
}

/**
 * A member's worktree of the run's repository, made from the mirror: the one already on this host, or a
 * new one on `reins/<run>/<member>` at the base commit with each dependency's branch merged in, so the
 * member sees what its dependencies made, whichever host made it. A conflict fails the member for good
 * (class merge_conflict), naming the files.
 */
export async function repoWorktree(request: RepoWorktreeRequest): Promise<{ branch: string }> {
  const { mirror, dir, runId, member, baseCommit, dependsOn } = request;
  const branch = memberBranch(runId, member);
  if (existsSync(dir) && (await gitTopLevel(dir)) === dir) return { branch };
  // One hold of the lock, and git only where it is needed: a warm mirror costs a worktree and two lookups.
  const fresh = await withMirror(mirror, async () => {
    if (dependsOn.length > 0) {
      // The dependencies' branches as the remote has them now, whichever host pushed them.
      const refspecs = dependsOn.map((dep) => `+refs/heads/${memberBranch(runId, dep)}:${remoteMemberRef(runId, dep)}`);
      await fetchRefs(mirror, refspecs).catch((error: unknown) => {
        throw new ClassifiedFailure('crash', `the branches of ${member}'s dependencies (${dependsOn.join(', ')}) could not be fetched: ${(error as Error).message}`);
      });
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    // A branch left here by an earlier attempt on this host is its work: check it out as it is.
    if (await gitSucceeds(mirror.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])) {
      await addWorktree(mirror, [dir, branch]);
      return false;
    }
    if (!(await fetchCommit(mirror, baseCommit))) throw new ClassifiedFailure('crash', `the run's base commit ${baseCommit} is not on ${mirror.url} any more`);
    await addWorktree(mirror, ['-b', branch, dir, baseCommit]);
    return true;
  });
  if (fresh) await mergeDependencies(request, branch);
  return { branch };
}

/** `git worktree add`; when git still remembers a worktree that was removed by hand, it forgets it and tries again. */
async function addWorktree(mirror: Mirror, args: readonly string[]): Promise<void> {
  if ((await git(mirror.dir, ['worktree', 'add', '--quiet', ...args], { reject: false })).exitCode === 0) return;
  await git(mirror.dir, ['worktree', 'prune']);
  await git(mirror.dir, ['worktree', 'add', '--quiet', ...args]);
}

async function mergeDependencies(request: RepoWorktreeRequest, branch: string): Promise<void> {
  const { mirror, dir, runId, member } = request;
  for (const dep of request.dependsOn) {
    const ref = remoteMemberRef(runId, dep);
    const merged = await git(dir, ['merge', '--no-ff', '--no-edit', '-m', `reins: ${member} starts from ${dep}`, ref], { reject: false });
    if (merged.exitCode === 0) continue;
    const files = (await git(dir, ['diff', '--name-only', '--diff-filter=U'], { reject: false })).stdout.split('\n').filter(Boolean);
    await git(dir, ['merge', '--abort'], { reject: false });
    await discard(mirror, dir, branch);
    const what = files.length > 0 ? `in ${files.join(', ')}` : merged.stderr.trim().split('\n').at(-1);
    throw new ClassifiedFailure('merge_conflict', `the branches of ${member}'s dependencies conflict where it starts: merging ${dep} conflicts ${what}`);
  }
}

/** A start that failed leaves nothing behind, so a retry (reins retry) starts clean. */
async function discard(mirror: Mirror, dir: string, branch: string): Promise<void> {
  await withMirror(mirror, async () => {
    await git(mirror.dir, ['worktree', 'remove', '--force', dir], { reject: false });
    await git(mirror.dir, ['branch', '-D', branch], { reject: false });
  });
}
