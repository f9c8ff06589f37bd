import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { handOver, handOverAgain, type AgentUser } from '../agent-user.js';
import { ClassifiedFailure } from '../attempt/retry-error.js';
import { git, gitOutput, gitTopLevel } from './git.js';
import { fetchCommit, fetchRefs, REINS_EXCLUDES, withMirror, type Mirror } from './mirror.js';
import { memberBranch } from './worktree.js';

/** Where a member's dependency's work is, in the mirror, once fetched from the remote. */
export const remoteMemberRef = (runId: string, member: string): string => `refs/remotes/origin/${memberBranch(runId, member)}`;

export interface RepoCloneRequest {
  mirror: Mirror;
  dataDir: string;
  dir: string;
  runId: string;
  member: string;
  baseCommit: string;
  /** The member's dependencies, in dependency order: their branches are merged where it starts. */
  dependsOn: readonly string[];
  /** Who the agent runs as: the clone is theirs (agent-user.ts). */
  as: AgentUser | undefined;
}

/**
 * A member's own clone of the run's repository, made from this host's mirror: the one already on this
 * host, or a new one on `reins/<run>/<member>` at the base commit with each dependency's branch merged in,
 * so the member sees what its dependencies made, whichever host made it. A conflict fails the member for
 * good (class merge_conflict), naming the files.
 *
 * It is a `git clone --shared` (the mirror's objects through alternates, so it costs no copy), not a
 * worktree: a worktree keeps its index and HEAD inside the mirror and writes its commits there, and an agent
 * running as a user of its own must not own any part of the mirror. The worker makes the clone in a
 * folder no agent can reach yet, then hands it over; from then on only the agent's user runs git in it.
 */
export async function repoClone(request: RepoCloneRequest): Promise<{ branch: string }> {
  const { mirror, dir, runId, member, baseCommit, dependsOn, as } = request;
  const branch = memberBranch(runId, member);
  // An earlier attempt's clone on this host goes on, given to this attempt's user (REINS_AGENT_GROUP may pick another).
  if (existsSync(dir)) await handOverAgain(as, request.dataDir, dir);
  if (existsSync(dir) && (await gitTopLevel(dir, as)) === dir) return { branch };
  // One hold of the lock, and git only where it is needed: a warm mirror costs a clone and two lookups.
  const start = await withMirror(mirror, async () => {
    // A branch this host published for the member is its work: it goes on from there.
    const published = await gitOutput(mirror.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
    if (published !== undefined) return { commit: published, merges: [] };
    if (dependsOn.length > 0) {
      // The dependencies' branches as the remote has them now, whichever host pushed them.
      const refspecs = dependsOn.map((dep) => `+refs/heads/${memberBranch(runId, dep)}:${remoteMemberRef(runId, dep)}`);
      await fetchRefs(mirror, refspecs).catch((error: unknown) => {
        throw new ClassifiedFailure('crash', `the branches of ${member}'s dependencies (${dependsOn.join(', ')}) could not be fetched: ${(error as Error).message}`);
      });
    }
    if (!(await fetchCommit(mirror, baseCommit))) throw new ClassifiedFailure('crash', `the run's base commit ${baseCommit} is not on ${mirror.url} any more`);
    const merges: { dep: string; commit: string }[] = [];
    for (const dep of dependsOn) {
      const commit = await gitOutput(mirror.dir, ['rev-parse', '--verify', '--quiet', `${remoteMemberRef(runId, dep)}^{commit}`]);
      if (commit === undefined) throw new ClassifiedFailure('crash', `${member}'s dependency ${dep} has no branch ${memberBranch(runId, dep)} on ${mirror.url}`);
      merges.push({ dep, commit });
    }
    return { commit: baseCommit, merges };
  });
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  await git(path.dirname(dir), ['clone', '--quiet', '--shared', '--no-checkout', mirror.dir, dir]);
  await writeFile(path.join(dir, '.git', 'info', 'exclude'), `# reins: what it puts in a workspace is not the agent's work\n${REINS_EXCLUDES.join('\n')}\n`);
  await git(dir, ['checkout', '--quiet', '-b', branch, start.commit]);
  for (const { dep, commit } of start.merges) {
    const merged = await git(dir, ['merge', '--no-ff', '--no-edit', '-m', `reins: ${member} starts from ${dep}`, commit], { reject: false });
    if (merged.exitCode === 0) continue;
    const files = (await git(dir, ['diff', '--name-only', '--diff-filter=U'], { reject: false })).stdout.split('\n').filter(Boolean);
    // A start that failed leaves nothing behind, so a retry (reins retry) starts clean.
    await rm(dir, { recursive: true, force: true });
    const what = files.length > 0 ? `in ${files.join(', ')}` : merged.stderr.trim().split('\n').at(-1);
    throw new ClassifiedFailure('merge_conflict', `the branches of ${member}'s dependencies conflict where it starts: merging ${dep} conflicts ${what}`);
  }
  await handOver(as, request.dataDir, dir);
  return { branch };
}
